# Every target creates .venv from pyproject.toml when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out/samples

.PHONY: demo test lab samples notebooks bench clean lake-local athena-local logs-local

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

lake-local: $(BIN)/sts-kit  ## a local CloudTrail Lake endpoint on 127.0.0.1:4599 over the samples
	$(BIN)/python -m kit.localaws lake --port 4599 --data data/samples/trail

athena-local: $(BIN)/sts-kit  ## a local Athena endpoint on 127.0.0.1:4598 over the samples
	$(BIN)/python -m kit.localaws athena --port 4598 --data data/samples/trail

logs-local: $(BIN)/sts-kit  ## a local CloudWatch Logs (Logs Insights) endpoint on 127.0.0.1:4597 over the samples
	$(BIN)/python -m kit.localaws logs --port 4597 --data data/samples/trail

bench: $(BIN)/sts-kit  ## local engine vs the json_normalize way vs the parse floor (bench/RESULTS.md)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf out runs .pytest_cache

notebooks: $(BIN)/sts-kit  ## re-execute the committed notebooks on the samples (outputs for readers and nbval)
	$(BIN)/python -c "from kit.runner import refresh_committed; refresh_committed()"
