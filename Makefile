# The two commands: `make run` and `make test`. Everything else is for developers.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test lint browser clean bench

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .   # the `genjobs` command (genjobs_client/)
	rm -f $(VENV)/.installed-* && touch $@

browser:
	@bash scripts/install_chromium.sh

run: install
	$(PY) -m webapp.launch

test: install browser
	$(PY) -m pytest

# Benchmarks against a private stack; writes bench/results/latest.{json,md} (under 10 minutes).
bench: install
	$(PY) -m bench

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy config tasks genjobs_client

clean:
	rm -rf .local/artifacts .pytest_cache
