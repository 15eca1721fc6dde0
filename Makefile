# Two commands for users: `make` (everything, end to end) and `make test` (the whole test suite);
# `make test-fast` (the tests not marked slow) is the edit loop. All install what is missing first;
# `make setup` alone is idempotent and takes seconds when done.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
CORES ?= 4
APT_PACKAGES := r-base-core r-cran-ggplot2 r-cran-rmarkdown r-cran-knitr r-cran-reticulate \
	r-cran-testthat r-cran-readr r-cran-dplyr r-cran-tidyr r-cran-jsonlite r-cran-lintr pandoc \
	texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended lmodern
# Only for the tests: the one-node Slurm cluster of tests/test_slurm.py (which needs root).
TEST_APT_PACKAGES := slurm-wlm munge

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export RETICULATE_PYTHON := $(CURDIR)/$(PY)

RPKG := Rscripts/pyode
RPKG_FILES := $(shell find $(RPKG) -type f ! -name .installed 2>/dev/null)

.PHONY: all paper test test-fast test-system setup system python rpackage lint bench clean
all: paper

paper: setup
	snakemake --cores $(CORES)

test: setup test-system
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

# apt (R, LaTeX) and pip (torch) are independent: run them side by side.
setup:
	@$(MAKE) --no-print-directory -j2 system python
	@$(MAKE) --no-print-directory rpackage

# apt_install(packages, what they are for, exit status where they cannot be installed): installs
# the missing Debian packages with apt-get, sudo when not root. (No commas in the arguments.)
define apt_install
	@missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; \
		elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
		else echo "pyode setup: root or sudo needed to install these Debian packages for $(2):$$missing" >&2; exit $(3); fi; \
		if ! command -v apt-get >/dev/null; then \
			echo "pyode setup: no apt-get here to install these Debian packages for $(2):$$missing" >&2; exit $(3); fi; \
		echo "pyode setup: installing$$missing"; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
		|| { echo "pyode setup: apt-get failed; packages needed:$$missing" >&2; exit 1; }; \
	fi
endef

# Debian packages for R, the R packages and LaTeX.
system:
	$(call apt_install,$(APT_PACKAGES),R and LaTeX (or use environment.yml with conda),1)

# Debian packages for the Slurm test only: without them (or without root, which it needs anyway)
# the suite still runs and that one test is skipped, saying why.
test-system:
	$(call apt_install,$(TEST_APT_PACKAGES),the Slurm test (skipped without them),0)

python: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --no-compile -c constraints.txt -e '.[dev]'
	@# Byte-compile the installed libraries once, on every core: every pyode, snakemake and test
	@# process imports torch, which costs seconds more from source, and an environment with
	@# PYTHONDONTWRITEBYTECODE never caches it. (Template files of some libraries do not compile.)
	-@$(PY) -m compileall -q -j0 $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') >/dev/null 2>&1
	touch $@

# The R package pyode, installed into the first writable R library (else the user library). The
# project folder is recorded so that library(pyode) finds this project's .venv from anywhere.
rpackage: $(RPKG)/.installed

$(RPKG)/.installed: $(RPKG_FILES)
	@lib=$$(Rscript -e 'w <- .libPaths()[file.access(.libPaths(), 2) == 0]; if (length(w) == 0) { w <- Sys.getenv("R_LIBS_USER"); dir.create(w, recursive = TRUE, showWarnings = FALSE) }; cat(w[[1]])') && \
	PYODE_PROJECT_ROOT=$(CURDIR) R CMD INSTALL --no-multiarch --no-test-load -l "$$lib" $(RPKG) >$(RPKG)/.install.log 2>&1 \
	|| { cat $(RPKG)/.install.log >&2; echo "pyode setup: R CMD INSTALL $(RPKG) failed" >&2; exit 1; }
	@rm -f $(RPKG)/.install.log
	@touch $@

lint: setup
	Rscript -e 'lints <- lintr::lint_package("$(RPKG)"); print(lints); quit(status = length(lints) > 0)'
	$(VENV)/bin/ruff check .
	snakemake --lint
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules

bench: setup
	$(PY) -m pyode.bench solver

clean:
	rm -rf results/* .snakemake
	git checkout -- results/README.md

# The GPU check in one command on a machine with only Python and torch (no setup, R or network):
# the CUDA tests, the solver benchmark and config/gpu.yaml's MNIST trainings, all written into OUT
# (pyode/bench/gpu_check.py). DEVICE=cpu SCALE=tiny rehearses the same steps on a CPU.
OUT ?= results/gpu-check
DEVICE ?= cuda
SCALE ?= full
GPU_PYTHON ?= python3
.PHONY: gpu-check
gpu-check:
	PYTHONPATH="$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH}" $(GPU_PYTHON) -m pyode.bench.gpu_check \
		--out "$(OUT)" --device $(DEVICE) --scale $(SCALE)
