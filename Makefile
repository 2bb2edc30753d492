# Fieldflow — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export FLASK_APP := wsgi

.PHONY: run test install install-test bench clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check --upgrade pip
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements-test.txt $(VENV)/.installed
	$(PIP) install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## make run: install, migrate, load demo data once, start Redis (embedded unless REDIS_URL),
## a worker, the scheduler and the web server. Ctrl-C stops them all.
run: $(VENV)/.installed
	$(PY) -m app.devstack

## make test: install what the tests need and run them on PYTEST_WORKERS processes (PYTEST_ARGS to pass options).
PYTEST_WORKERS ?= 2
test: $(VENV)/.installed-test
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal --durations=15 $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(PY) bench/orgunits.py

clean:
	rm -rf $(VENV) instance .pytest_cache
