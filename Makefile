# Style License — the two commands: `make run` (whole platform, embedded defaults) and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test lint test-python test-frontend test-e2e install frontend-install frontend migrate clean

# The project itself is installed (editable, no extra dependencies) so `celery -A workers ...`,
# `flask --app wsgi ...` and the scripts import it from any directory without PYTHONPATH.
.venv/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt
	$(PIP) install -q --no-deps -e .
	touch $@

install: .venv/.installed

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

frontend-install: frontend/node_modules/.installed

frontend: frontend-install
	cd frontend && npm run build

migrate: install
	$(PY) -m flask --app wsgi db upgrade

## run: everything on one machine (SQLite, local files, filesystem broker, tiny model, dev login)
run: install frontend migrate
	bash scripts/run-local.sh

lint: install
	.venv/bin/ruff check stylelicense workers tests bench celery_config.py wsgi.py
	.venv/bin/ruff format --check stylelicense workers tests bench celery_config.py wsgi.py

# The SPA is built first: the production smoke test serves it through nginx.
test-python: install frontend
	.venv/bin/pytest --cov --cov-report=term:skip-covered -q

test-frontend: frontend-install
	cd frontend && npm run lint && npm test

test-e2e: install frontend
	@if [ -f frontend/playwright.config.js ]; then cd frontend && npm run test:e2e; else echo "no e2e suite"; fi

## test: linters, Python tests on PostgreSQL/RabbitMQ, SPA unit tests, browser end-to-end tests
test: lint test-python test-frontend test-e2e

clean:
	rm -rf instance/broker instance/storage instance/stylelicense.db .pytest_cache .coverage
