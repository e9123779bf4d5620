# `make plan STACK=stg` and `make test` work on a fresh machine: the venv is made on first use.
# Each target with a `## ` comment is listed by `make help` (the default goal), one line each.
VENV ?= venv
PY := $(VENV)/bin/python
PYTHON3 ?= python3
STACK ?= stg
SHARED ?= ../shared
BASE ?= HEAD

.DEFAULT_GOAL := help
.PHONY: help deps lock plan bench test lint format validate pipeline policy-deps diff flip rollback canary cohorts status release drift e2e-tools e2e-env e2e-up e2e-bench e2e e2e-down

help: ## list the targets (this text)
	@echo "usage: make <target> [STACK=stg] [APP=...] ...   (README: Set up, Release walkthrough)"
	@awk -F ':.*## ' '/^[a-z0-9-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# --- commands that need variables: a one-line hint and exit 2 before anything runs -------------
# USAGE_<goal> is the example; NEEDS_<goal> the variables it must have.
USAGE_flip := make flip STACK=$(STACK) APP=front TO=green
NEEDS_flip := APP TO
USAGE_rollback := make rollback STACK=$(STACK) APP=front
NEEDS_rollback := APP
USAGE_canary := make canary STACK=$(STACK) APP=front WEIGHT=10
NEEDS_canary := APP WEIGHT
USAGE_cohorts := make cohorts STACK=$(STACK) APP=front ON=true
NEEDS_cohorts := APP ON
USAGE_release := make release STACK=$(STACK) APP=front
NEEDS_release := APP
$(foreach goal,$(MAKECMDGOALS),$(foreach var,$(NEEDS_$(goal)),$(if $($(var)),,$(error $(var) is missing: $(USAGE_$(goal))))))

# --- the virtualenvs ----------------------------------------------------------------------------
# Without ./venv, every goal but these first checks python3: older than 3.11 is refused in one line.
NO_VENV_GOALS := help e2e-tools e2e-down
ifeq ($(wildcard $(PY)),)
ifneq ($(filter-out $(NO_VENV_GOALS),$(MAKECMDGOALS)),)
PYTHON3_VERSION := $(shell $(PYTHON3) -c 'import sys; print("ok" if sys.version_info >= (3, 11) else ".".join(map(str, sys.version_info[:3])))' 2>/dev/null)
$(if $(filter ok,$(PYTHON3_VERSION)),,$(error $(PYTHON3) is $(if $(PYTHON3_VERSION),Python $(PYTHON3_VERSION),not found); bluegreen-platform needs Python 3.11 or newer (e.g. make $(MAKECMDGOALS) PYTHON3=python3.11)))
endif
endif
# $(call new-venv,DIR): create DIR unless it has a python.
new-venv = test -x $(1)/bin/python || { echo "creating $(1) and installing the pinned requirements (first time: a few minutes)" && $(PYTHON3) -m venv $(1); }
PIP_INSTALL = -m pip install --disable-pip-version-check

deps: $(VENV)/.installed ## create ./venv and install the pinned requirements (done by every target that needs it)

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt policies/requirements.txt policies/constraints.txt
	@$(call new-venv,$(VENV))
	$(PY) $(PIP_INSTALL) -q --upgrade pip
	$(PY) $(PIP_INSTALL) -r requirements-dev.txt -r policies/requirements.txt
	touch $@

# The policy pack's own virtualenv (PulumiPolicy.yaml: virtualenv: venv), used by `pulumi preview --policy-pack policies`.
policy-deps: policies/venv/.installed ## the policy pack's own venv (for pulumi preview --policy-pack policies)

policies/venv/.installed: policies/requirements.txt policies/constraints.txt
	@$(call new-venv,policies/venv)
	policies/venv/bin/python $(PIP_INSTALL) -r policies/requirements.txt
	touch $@

# The constraints files lock every transitive package; this re-resolves them from the pins (without the old lock).
lock: ## re-resolve requirements*.txt into constraints.txt and policies/constraints.txt (after changing a pin)
	@rm -rf build/lock && mkdir -p build/lock/policies
	@for f in requirements.txt requirements-dev.txt policies/requirements.txt; do grep -v '^-c ' $$f > build/lock/$$f; done
	$(PYTHON3) -m venv build/lock/venv && $(PYTHON3) -m venv build/lock/policies/venv
	build/lock/venv/bin/python $(PIP_INSTALL) -q -r build/lock/requirements-dev.txt -r build/lock/policies/requirements.txt
	build/lock/venv/bin/python -m pip freeze | LC_ALL=C sort -f > build/lock/all.txt
	build/lock/policies/venv/bin/python $(PIP_INSTALL) -q -r build/lock/policies/requirements.txt -c build/lock/all.txt
	{ grep '^#' constraints.txt; cat build/lock/all.txt; } > build/lock/constraints.txt
	{ grep '^#' policies/constraints.txt; build/lock/policies/venv/bin/python -m pip freeze | LC_ALL=C sort -f; } > build/lock/policies/constraints.txt
	mv build/lock/constraints.txt constraints.txt && mv build/lock/policies/constraints.txt policies/constraints.txt && rm -rf build/lock
	@git diff --stat -- constraints.txt policies/constraints.txt

# --- offline plan and tests ---------------------------------------------------------------------
plan: deps ## render STACK offline into build/STACK/ and run the policy pack (make plan STACK=prod)
	@$(PY) -m cli plan --stack $(STACK)

# BENCH_ARGS passes options, e.g. --repeat 3, --from local, --tree <an export of a base commit> (see --help).
bench: deps ## offline plan time for 1, 50 and 100 copies of front, ms per extra app, beside the import floor (prints numbers)
	@$(PY) -m cli.engine.bench $(BENCH_ARGS)

# One worker per core (pytest-xdist); a test file stays on one worker, so a module's fixture (the real
# Prometheus of tests/app/test_promotion_prometheus.py) starts once.
test: deps ## the unit tier: pytest under the mock engine, no cloud, one worker per core
	$(PY) -m pytest -q -n auto --dist loadfile

lint: deps ## ruff (lint and format check) and mypy over components/, cli/, policies/, tests/ (pyproject.toml)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: deps ## apply ruff's fixes and formatting (then review the diff)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

validate: deps ## check every build/*/manifests against the Kubernetes and Istio schemas (after make plan)
	@ls -d build/*/manifests >/dev/null 2>&1 || { echo "nothing to validate: run make plan STACK=<stack> first"; exit 1; }
	@echo "validating the manifests of stack(s): $(sort $(patsubst build/%/manifests,%,$(wildcard build/*/manifests)))"
	$(PY) $(SHARED)/tools/validate_manifests.py build/*/manifests
	@echo "validated stack(s): $(sort $(patsubst build/%/manifests,%,$(wildcard build/*/manifests)))"

# The merge-request path of .gitlab-ci.yml run by the pinned gitlab-ci-local (tools/gitlab-ci-local/): GitLab's
# limits and rules, then the plan-diff jobs against BASE (default HEAD~1 here); WITH_TEST=1 runs the test job too.
pipeline: deps ## run the merge-request pipeline locally with gitlab-ci-local: make pipeline [BASE=main] [WITH_TEST=1]
	@WITH_TEST="$(WITH_TEST)" bash tools/gitlab-ci-local/pipeline.sh $(if $(filter command line environment,$(origin BASE)),"$(BASE)")

# --- delivery (README "Release walkthrough") ----------------------------------------------------
# BLUEGREEN_MAKE=1: refusals name the next command as `make ...` (cli/shared/hints.py).
# `make diff` plans BASE (default HEAD) and the working tree and prints the change (Markdown copy in
# build/diff-<stack>.md). The CLI exits 0 no changes, 1 error, 2 changes; here changes are not a failure.
# An app that loses all its traffic fails the diff unless named in REMOVE_APP (the CLI reads it from the environment).
diff: deps ## what the working tree changes against BASE (default HEAD): make diff STACK=stg BASE=origin/main [REMOVE_APP=front]
	@$(if $(REMOVE_APP),REMOVE_APP="$(REMOVE_APP)") $(PY) -m cli diff --stack $(STACK) --base $(BASE) --markdown build/diff-$(STACK).md || test $$? -eq 2

flip: deps ## guarded edit, all traffic to a color: make flip STACK=stg APP=front TO=green
	@BLUEGREEN_MAKE=1 $(PY) -m cli flip --stack $(STACK) --app "$(APP)" --to "$(TO)"

rollback: deps ## guarded edit, back to the idle color: make rollback STACK=stg APP=front
	@BLUEGREEN_MAKE=1 $(PY) -m cli rollback --stack $(STACK) --app "$(APP)"

canary: deps ## guarded edit, idle color's share: make canary STACK=stg APP=front WEIGHT=10
	@BLUEGREEN_MAKE=1 $(PY) -m cli canary --stack $(STACK) --app "$(APP)" --weight "$(WEIGHT)"

cohorts: deps ## guarded edit, A/B cohorts to the idle color on or off: make cohorts STACK=stg APP=front ON=true
	@case "$(ON)" in true) on=--on;; false) on=--off;; *) echo "ON must be true or false: $(USAGE_cohorts)" >&2; exit 2;; esac; \
	$(PY) -m cli cohorts --stack $(STACK) --app "$(APP)" $$on

status: deps ## each app's colors, split, preview, images and replicas (reads only)
	@$(PY) -m cli status --stack $(STACK)

# One guarded edit and `pulumi up` per apps.<APP>.promotion.steps; DRY_RUN=1 prints each step's plan diff only.
# RELEASE_ARGS passes more options (CI: --pulumi-stack, --policy-pack, --policy-pack-config; see --help).
release: deps ## walk APP's idle color through its promotion steps, one pulumi up each: make release STACK=stg APP=front [DRY_RUN=1]
	@BLUEGREEN_MAKE=1 $(PY) -m cli release --stack $(STACK) --app "$(APP)" $(if $(DRY_RUN),--dry-run) $(RELEASE_ARGS)

# The real engine reads every object live and compares it with the stack config (README "Drift"); changes nothing.
# DRIFT_ARGS passes more options (CI: --pulumi-stack acme/stg). The CLI exits 1 on drift, 2 when it cannot check;
# make turns either into its own exit code 2.
drift: deps ## what changed on the cluster behind Pulumi's back (kubectl edit): live objects vs the stack config; make drift STACK=stg
	@$(PY) -m cli drift --stack $(STACK) $(DRIFT_ARGS)

# --- real engine, locally (docs/real-engine.md) ---------------------------------------
# The pinned toolchain built from Go modules into ~/.cache/bluegreen-platform/e2e/<hash>/, a control
# plane with fake nodes on loopback, and the e2e tier.
e2e-tools: ## build the pinned e2e toolchain once (no-op when built)
	bash e2e/tools/build.sh

e2e-env: e2e-tools deps ## start the local cluster and its data plane (istiod, Envoy gateway, pod servers; no-op when running)
	bash e2e/cluster/up.sh
	bash e2e/mesh/up.sh

# STACK defaults to local here: the only stack file made for the local cluster (stg and prod need GCP).
e2e-up: deps ## pulumi up (DESTROY=1: destroy) of STACK (default local) on the local cluster, as the e2e tests run it (after make e2e-env)
	$(PY) -m tests.e2e.up --stack $(if $(filter command line environment,$(origin STACK)),$(STACK),local) $(if $(DESTROY),--destroy)

e2e-bench: deps ## the real-traffic tier's numbers: 10 flips by pulumi up and by kubectl apply under load, memory (after make e2e-env)
	$(PY) -m tests.e2e.bench_traffic

e2e: deps policy-deps ## the real-engine tests against the local cluster (after make e2e-env)
	$(PY) -m pytest -q -m e2e tests/e2e

e2e-down: ## stop the local cluster and remove its state
	bash e2e/cluster/down.sh
