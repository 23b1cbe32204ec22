# plasmatrack: the two commands of the README.
#   make demo   install what is missing, simulate the demo cohort, run the pipeline on it
#   make test   install what is missing, run every test layer
# Both are idempotent: a second run installs nothing and reruns nothing that is up to date.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
SEED ?= 1
# UMI=single|duplex: the demo cohort with a UMI library (plasmatrack simulate --umi) in its own
# folder, run with UMI consensus (docs/umi_pipeline.md); none (default): the plain demo.
UMI ?= none
DEMO_DIR ?= $(if $(filter none,$(UMI)),demo,demo-umi-$(UMI))
# The one list of what each command installs (Debian packages; Python packages: requirements.txt).
# APT_RUN: what `make demo` and the pipeline's defaults need (Python for the venv, align, QC).
# APT_TEST: what only the tests add: a browser (+ libatomic1, which playwright's driver loads),
# poppler-utils (pdftoppm renders the printed cohort page), a real SLURM, R + DNAcopy (ichorCNA .rds
# panels, the opt-in cbs segmentation) and mosdepth (+ the libhts it loads) for the depth
# cross-check.
APT_RUN := python3 python3-venv bwa samtools bcftools tabix
APT_TEST := chromium libatomic1 poppler-utils slurm-wlm munge r-base-core r-bioc-dnacopy mosdepth libhts-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test deps deps-test apt-run apt-test venv dryrun clean-demo fresh-check

demo: deps
	$(BIN)/plasmatrack simulate --out $(DEMO_DIR)/cohort --seed $(SEED) \
	  $(if $(filter none,$(UMI)),,--umi $(UMI))
	$(BIN)/snakemake -s Snakefile --directory $(DEMO_DIR) \
	  --configfile $(DEMO_DIR)/cohort/config.yaml --profile profiles/local --cores $(CORES)
	@echo
	@echo "Demo finished. Outputs under $(DEMO_DIR)/results/:"
	@echo "  QC table:        $(DEMO_DIR)/results/qc/qc_summary.tsv"
	@[ -e $(DEMO_DIR)/results/qc/umi_summary.tsv ] && \
	  echo "  UMI consensus:   $(DEMO_DIR)/results/qc/umi_summary.tsv"; true
	@for f in $(DEMO_DIR)/results/cnv/tumour_fraction.tsv $(DEMO_DIR)/results/variants/tracked_variants.tsv \
	          $(DEMO_DIR)/results/cohort/survival.tsv $(DEMO_DIR)/results/reports/cohort.html; do \
	  [ -e $$f ] && echo "  $$f"; done; true
	@echo "  Simulator truth: $(DEMO_DIR)/cohort/truth/"

test: deps deps-test
	bash tests/run_all.sh $(ARGS)

deps: apt-run venv
deps-test: apt-test

# Install only the Debian packages that are missing (dpkg knows), without recommends.
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

apt-run:
	$(call apt_install,$(APT_RUN))

apt-test:
	$(call apt_install,$(APT_TEST))

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

clean-demo:
	rm -rf $(DEMO_DIR)

# The README's two commands on a bare Debian 12 root (debootstrap + chroot; root, ~1 h).
fresh-check:
	bash tests/fresh/fresh_check.sh
