# make demo  - set up and show the agent on bundled sample data (offline, SQLite)
# make test  - set up (Python venv, Dovecot, PostgreSQL) and run every test
# make bench - the sync benchmark against a real Dovecot
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all venv demo test lint bench clean system-deps i18n

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	bash .ci/system-deps.sh

demo: $(STAMP)
	$(BIN)/python -m agent.demo

test: $(STAMP) system-deps
	$(BIN)/ruff check agent connectors rules tests bench
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check agent connectors rules tests bench
	$(BIN)/ruff format --check agent connectors rules tests bench
	$(BIN)/mypy agent connectors rules

i18n: $(STAMP)
	$(BIN)/python -m agent.i18n_extract

bench: $(STAMP) system-deps
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
