# Two commands: `make demo` (train on a built-in dataset) and `make test` (every test).
# Both set up a fresh machine themselves: a venv with everything, and Debian's Fashion-MNIST.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements-dev.txt | cksum | cut -d' ' -f1)
DEMO   := $(VENV)/.demo-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test bench install data browser clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q -e ".[cli,sklearn,lbfgs,mpi,onnx,playground,dev]"
	rm -f $(VENV)/.installed-*
	touch $@

# Debian's dataset-fashion-mnist package (the flagship example and its tests read it).
data:
	@dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq dataset-fashion-mnist; \
	  else echo "note: cannot install dataset-fashion-mnist (not root); see docs/datasets.md"; fi; }

# Debian's chromium, which the playground's browser tests drive headless (they skip, saying so, without it).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq chromium; \
	  else echo "note: cannot install chromium (not root): the playground's browser tests will skip"; fi; }

# The demo needs only the package and its CLI extra (no test tools): well under a minute on a fresh clone.
$(DEMO): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e ".[cli]"
	rm -f $(VENV)/.demo-*
	touch $@

demo: $(DEMO)
	$(BIN)/vecprop train --data digits --out runs/demo --overwrite

test: $(STAMP) data browser
	$(BIN)/python -m pytest -q

bench: $(STAMP) data
	$(BIN)/python benchmarks/bench_speed.py --out docs/benchmarks.md

clean:
	rm -rf $(VENV) runs .pytest_cache
