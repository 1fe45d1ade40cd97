# Every target creates .venv from pyproject.toml when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out/samples

.PHONY: demo test lab samples bench clean

$(BIN)/sts-kit: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/sts-kit  ## the migration plan of the shipped samples
	$(BIN)/sts-kit plan --source samples --out $(OUT)

test: $(BIN)/sts-kit  ## the whole suite
	$(BIN)/python -m pytest

lab: $(BIN)/sts-kit  ## JupyterLab on the notebooks
	$(BIN)/python -m pip install --quiet -e '.[lab]'
	$(BIN)/jupyter lab notebooks/

samples: $(BIN)/sts-kit  ## regenerate data/samples from kit/synth.py (deterministic)
	rm -rf data/samples/trail
	$(BIN)/python -m kit.synth --out data/samples

bench: $(BIN)/sts-kit  ## local engine vs the json_normalize way vs the parse floor (bench/RESULTS.md)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf out runs .pytest_cache
