# `make plan STACK=stg` and `make test` work on a fresh machine: the venv is made on first use.
VENV ?= venv
PY := $(VENV)/bin/python
STACK ?= stg
SHARED ?= ../shared

.PHONY: deps plan test validate policy-deps diff flip rollback canary status e2e-tools e2e-env e2e e2e-down
deps: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt policies/requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt -r policies/requirements.txt
	touch $@

plan: deps
	$(PY) -m cli plan --stack $(STACK)

test: deps
	$(PY) -m pytest -q

validate: deps
	@ls -d build/*/manifests >/dev/null 2>&1 || { echo "nothing to validate: run make plan STACK=<stack> first"; exit 1; }
	$(PY) $(SHARED)/tools/validate_manifests.py build/*/manifests

# The policy pack's own virtualenv (PulumiPolicy.yaml: virtualenv: venv), used by `pulumi preview --policy-pack policies`.
policy-deps: policies/venv/.installed

policies/venv/.installed: policies/requirements.txt
	test -x policies/venv/bin/python || python3 -m venv policies/venv
	policies/venv/bin/python -m pip install -q -r policies/requirements.txt
	touch $@

# Delivery: `make diff STACK=stg BASE=origin/main` plans BASE and the working tree and prints the change
# (Markdown copy in build/diff-<stack>.md). The CLI exits 0 no changes, 1 error, 2 changes; here changes are
# not a failure, so make fails only on errors. Routing edits are guarded: see README "Release walkthrough".
BASE ?= HEAD
diff: deps
	$(PY) -m cli diff --stack $(STACK) --base $(BASE) --markdown build/diff-$(STACK).md || test $$? -eq 2

flip: deps
	$(PY) -m cli flip --stack $(STACK) --app "$(APP)" --to "$(TO)"

rollback: deps
	$(PY) -m cli rollback --stack $(STACK) --app "$(APP)"

canary: deps
	$(PY) -m cli canary --stack $(STACK) --app "$(APP)" --weight "$(WEIGHT)"

status: deps
	$(PY) -m cli status --stack $(STACK)

# Real engine, locally (README "Real engine, locally"): the pinned toolchain built from Go modules into
# ~/.cache/bluegreen-platform/e2e/<hash>/, a control plane with fake nodes on loopback, and the e2e tier.
e2e-tools:
	bash e2e/tools/build.sh

e2e-env: e2e-tools
	bash e2e/cluster/up.sh

e2e: deps policy-deps
	$(PY) -m pytest -q -m e2e tests/e2e

e2e-down:
	bash e2e/cluster/down.sh
