# make demo  - set up and show the agent on bundled sample data (offline, SQLite)
# make test  - set up (Python venv, Dovecot, PostgreSQL) and run every test
# make bench - the sync benchmark against a real Dovecot
# make eval  - findings on real Enron mail against the judgements in tests/eval/
# make lock  - refresh constraints.txt, the exact versions every install above uses
# make man   - build/agent.1, the man page, from the CLI
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all venv demo test lint bench clean system-deps i18n lock eval man

all: test

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	bash .ci/system-deps.sh

demo: $(STAMP)
	$(BIN)/python -m agent.demo

test: $(STAMP) system-deps
	$(BIN)/ruff check agent connectors rules tests bench
	$(BIN)/mypy agent connectors rules tests bench
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check agent connectors rules tests bench
	$(BIN)/ruff format --check agent connectors rules tests bench
	$(BIN)/mypy agent connectors rules tests bench

# agent(1) from the command line's own help: man -l build/agent.1
man: $(STAMP)
	mkdir -p build
	$(BIN)/python -m agent.cli.manpage > build/agent.1

i18n: $(STAMP)
	$(BIN)/python -m agent.i18n_extract

bench: $(STAMP) system-deps
	$(BIN)/python -m bench.run

# Re-resolve constraints.txt to the newest releases pyproject.toml allows, in a scratch venv.
lock:
	rm -rf $(VENV)-lock
	$(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install -q --upgrade pip
	$(VENV)-lock/bin/pip install -q '.[test]'
	{ sed -n '1,/^pip==/{/^#/p}' constraints.txt; \
	  echo "pip==$$($(VENV)-lock/bin/pip --version | cut -d' ' -f2)"; \
	  $(VENV)-lock/bin/pip freeze --exclude relationship-agent; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf $(VENV)-lock

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

# The labelled evaluation on real mail: Enron mailboxes from ../shared/corpora, judged by hand.
eval: $(STAMP)
	$(BIN)/python -m tests.eval.run
