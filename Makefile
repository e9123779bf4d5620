# `make plan STACK=stg` and `make test` work on a fresh machine: the venv is made on first use.
VENV ?= venv
PY := $(VENV)/bin/python
STACK ?= stg
SHARED ?= ../shared

.PHONY: deps plan test validate
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
	$(PY) $(SHARED)/tools/validate_manifests.py build/*/manifests
