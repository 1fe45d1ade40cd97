# Every target creates .venv from pyproject.toml when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out/samples

.PHONY: demo test lab browser-test samples notebooks bench clean lake-local athena-local logs-local \
	security-lake-local

$(BIN)/sts-kit: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/sts-kit  ## the migration plan of the shipped samples
	$(BIN)/sts-kit plan --source samples --out $(OUT)

test: $(BIN)/sts-kit  ## the whole suite
	$(BIN)/python -m pytest

# Jupyter refuses to run as root without --allow-root (containers, workshop VMs): only then is it given.
AS_ROOT = $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

lab: $(BIN)/sts-kit  ## JupyterLab on the notebooks
	$(BIN)/python -m pip install --quiet -e '.[lab]'
	$(BIN)/jupyter lab $(AS_ROOT) notebooks/

CHROMIUM ?= /usr/bin/chromium

browser-test: $(BIN)/sts-kit  ## the notebooks in JupyterLab and report.html in headless Chromium (screenshots in test-artifacts/)
	$(BIN)/python -m pip install --quiet -e '.[browser]'
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
	  else \
	    echo "browser-test needs Chromium at $(CHROMIUM): run 'sudo apt-get install chromium'" \
	         "(Debian/Ubuntu) or pass CHROMIUM=/path/to/chromium" >&2; exit 1; \
	  fi; \
	fi
	CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest tests/test_browser.py tests/test_campaign_browser.py -m browser -p no:cacheprovider

samples: $(BIN)/sts-kit  ## regenerate data/samples from kit/synth.py (deterministic)
	rm -rf data/samples/trail
	$(BIN)/python -m kit.synth --out data/samples

lake-local: $(BIN)/sts-kit  ## a local CloudTrail Lake endpoint on 127.0.0.1:4599 over the samples
	$(BIN)/python -m kit.localaws lake --port 4599 --data data/samples/trail

athena-local: $(BIN)/sts-kit  ## a local Athena endpoint on 127.0.0.1:4598 over the samples
	$(BIN)/python -m kit.localaws athena --port 4598 --data data/samples/trail

logs-local: $(BIN)/sts-kit  ## a local CloudWatch Logs (Logs Insights) endpoint on 127.0.0.1:4597 over the samples
	$(BIN)/python -m kit.localaws logs --port 4597 --data data/samples/trail

SECURITY_LAKE ?= out/security-lake

$(SECURITY_LAKE)/aws/CLOUD_TRAIL_MGMT/2.0: | $(BIN)/sts-kit
	$(BIN)/python -m kit.ocsf --data data/samples/trail --out $(SECURITY_LAKE)

security-lake-local: $(SECURITY_LAKE)/aws/CLOUD_TRAIL_MGMT/2.0  ## a local Athena endpoint on 127.0.0.1:4596 with Security Lake's table (OCSF samples written under out/ if missing)
	$(BIN)/python -m kit.localaws athena --port 4596 --data data/samples/trail --ocsf $(SECURITY_LAKE)

bench: $(BIN)/sts-kit  ## local engine vs the json_normalize way vs the parse floor (bench/RESULTS.md)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf out runs .pytest_cache test-artifacts

notebooks: $(BIN)/sts-kit  ## re-execute the committed notebooks on the samples (outputs for readers and nbval)
	$(BIN)/python -c "from kit.runner import refresh_committed; refresh_committed()"
