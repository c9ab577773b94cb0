# Each target is what the README says it is; `make test` is the one CI runs.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install run test lint bench schema

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/quiz serve quizzes --demo-port 8001

test: install lint
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check quiz tests bench
	$(VENV)/bin/ruff format --check quiz tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: install
	$(PY) bench/scoring.py

schema: install
	$(VENV)/bin/quiz schema > quizzes/quiz.schema.json
