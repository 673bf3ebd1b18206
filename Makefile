# The two commands of the README:  `make run`  and  `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Two pytest workers (xdist), one test database each: the suite takes ~4 minutes on 2 cores.
PYTEST_ARGS ?= -n 2
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

.PHONY: install install-test run test lint chromium gettext messages services

# Two locks: requirements.lock is what the platform runs on (the production install), and
# requirements-test.lock adds the test tools (pytest, Playwright, schemathesis, ruff, ...).
# Regenerate both after changing pyproject.toml:
#   uv pip compile pyproject.toml -o requirements.lock
#   uv pip compile pyproject.toml --extra test -o requirements-test.lock
# Both also compile the translation catalogues (<app>/locale/, locale/; the .mo files are not in git)
# in pure Python (Babel), so running the platform needs no GNU gettext.
install: $(VENV)/.installed
	$(PY) -P loyalty_site/core/catalogues.py -q

install-test: $(VENV)/.installed-test
	$(PY) -P loyalty_site/core/catalogues.py -q

$(VENV)/bin/uv:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check uv

$(VENV)/.installed: requirements.lock | $(VENV)/bin/uv
	$(VENV)/bin/uv pip install -q -p $(PY) -r requirements.lock
	touch $@

$(VENV)/.installed-test: requirements-test.lock | $(VENV)/bin/uv
	$(VENV)/bin/uv pip install -q -p $(PY) -r requirements-test.lock
	touch $@

# Debian's Chromium for the Playwright tests (no browser downloads).
chromium:
	@command -v chromium >/dev/null 2>&1 || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null)

# GNU gettext (xgettext, msgmerge) for extracting strings: `make messages` and the catalogue test.
gettext:
	@command -v xgettext >/dev/null 2>&1 && command -v msgmerge >/dev/null 2>&1 || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq gettext >/dev/null)

# Extracts every translatable string into its catalogue (az, ru, kk), fills what the project already
# translated elsewhere, compiles; then translate the empty msgstr "" entries it reports.
messages: install-test gettext
	$(PY) manage.py update_catalogues

# Installs, migrates, loads the demo, seeds the job schedules and runs web + worker + beat.
# With no DATABASE_URL / CELERY_BROKER_URL: an embedded PostgreSQL in .pgdata/ and a broker on that database.
run: install
	export DEBUG=$${DEBUG:-1}; \
	$(PY) manage.py migrate --noinput -v0 && \
	$(PY) manage.py collectstatic --noinput -v0 && \
	$(PY) manage.py load_demo && \
	$(PY) manage.py sync_schedules && \
	echo "Admin: http://127.0.0.1:$${WEB_PORT:-8000}/admin/  (login admin / $${DEMO_PASSWORD:-demo12345}; merchant staff: owner, analyst; till: cashier)" && \
	echo "Till:  http://127.0.0.1:$${WEB_PORT:-8000}/cashier/   API docs: http://127.0.0.1:$${WEB_PORT:-8000}/api/docs/" && \
	$(VENV)/bin/honcho start -f Procfile

lint: install-test
	$(VENV)/bin/ruff check .

# Installs everything and runs the whole suite against PostgreSQL (DATABASE_URL, else the local server
# when it listens, else an embedded one;
# pytest-django creates the test database itself).
test: install-test chromium gettext
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)
