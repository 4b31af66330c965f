# `make test` is the README's test command and what .ci/run calls.
PY ?= python3

.PHONY: install test lint bench serve

install:
	$(PY) -m pip install -q -e '.[test]'

lint:
	$(PY) -m ruff check ivr tests bench
	$(PY) -m mypy ivr
	lint-imports

test: install lint
	$(PY) -m pytest -q -p no:cacheprovider; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

bench: install
	$(PY) -m bench

serve:
	$(PY) -m pip install -q -e . && ivr serve
