# Two commands a newcomer needs: `make demo` and `make test`.
# Both create a virtual environment in .venv and install wordrec into it first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := data/demo
MODEL ?= demo.model

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/wordrec train $(DEMO)/train -o $(MODEL)
	$(BIN)/wordrec eval -m $(MODEL) $(DEMO)/test

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/accuracy.py
	$(BIN)/python bench/noise.py

clean:
	rm -rf $(VENV) $(MODEL) .pytest_cache
