# Two commands a newcomer needs: `make demo` and `make test`.
# Both create a virtual environment in .venv and install wordrec into it first
# (pip's own output goes to .venv/install.log; it is shown only if pip fails).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := data/demo
MODEL ?= demo.model

.PHONY: install demo test quick bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@echo "Installing wordrec into $(VENV) (log: $(VENV)/install.log)"
	@$(PYTHON) -m venv $(VENV)
	@($(BIN)/python -m pip install --quiet --upgrade pip && \
	  $(BIN)/python -m pip install --quiet -e '.[test,dask]') > $(VENV)/install.log 2>&1 \
	  || (cat $(VENV)/install.log; exit 1)
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/wordrec train $(DEMO)/train -o $(MODEL)
	$(BIN)/wordrec eval -m $(MODEL) $(DEMO)/test

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The test suite without the slow end-to-end runs, for a quick check while developing.
quick: $(STAMP)
	$(BIN)/python -m pytest -q -m 'not slow'

bench: $(STAMP)
	@$(BIN)/python -m pip install --quiet -e '.[test,bench]' > $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/accuracy.py
	$(BIN)/python bench/noise.py

clean:
	rm -rf $(VENV) $(MODEL) .pytest_cache
