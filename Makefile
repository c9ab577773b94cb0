# Each target is what the README says it is; `make test` is the one CI runs.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install browser postgres run test lint bench schema

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Browser tests drive Chromium: Debian's package where apt works as root (CI, this kind of machine,
# where Playwright's own download is blocked), else Playwright's build (a laptop).
browser: install
	@if [ -x /usr/bin/chromium ]; then echo "chromium: /usr/bin/chromium"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else $(VENV)/bin/playwright install chromium; fi
	@# A Japanese font, for the tests that lay out Japanese lines (without one, every character is a box).
	@if command -v fc-list >/dev/null && [ -z "$$(fc-list :lang=ja)" ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-ipafont-gothic >/dev/null 2>&1 || \
		 (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-ipafont-gothic >/dev/null)); fi

# The store tests start a throwaway PostgreSQL cluster (tests/postgres.py): Debian's server package
# where apt works as root; elsewhere the suite says loudly what it skipped.
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then echo "postgresql: found"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else echo "postgresql: not found; its tests will be skipped (install it, or set QUIZ_PG_BIN)"; fi

# `make run QUIZ_PORT=9000 DEMO_PORT=9001` when the default ports are taken (QUIZ_PORT in the
# environment works too, as for `quiz serve`).
QUIZ_PORT ?= 8000
DEMO_PORT ?= 8001
run: install
	$(VENV)/bin/quiz serve quizzes --port $(QUIZ_PORT) --demo-port $(DEMO_PORT)

test: install browser postgres lint
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check quiz tests bench docs
	$(VENV)/bin/ruff format --check quiz tests bench docs
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: install browser postgres
	$(PY) bench/scoring.py
	$(PY) bench/validate_limits.py
	$(PY) bench/widget_weight.py
	$(PY) bench/load.py
	$(PY) bench/store.py
	$(PY) bench/export.py
	$(PY) bench/startup.py
	$(PY) bench/lint.py
	$(PY) bench/webhook.py
	$(PY) bench/optins.py
	$(PY) bench/dashboard.py

schema: install
	$(VENV)/bin/quiz schema > quizzes/quiz.schema.json
