# 客服微刊 — the publisher's interface. `make` (or `make help`) lists every target.
#
# Safety: Q, DATA, OUT, REF (and ENV) come from the command line. They are read with
# $(value ...) and un-exported, so that text like `$(shell ...)` or `;rm` is never
# expanded by make nor pasted into a shell; recipes see them only as quoted
# environment variables, and Q is checked against YYYYQn before any recipe runs.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

PYTHON_SYS ?= python3
VENV := .venv
KVENV := .venv-kernel
UV_VERSION := 0.13.9
KERNEL := kefu-weikan

# Which environment runs the tools (papermill, nbconvert, JupyterLab, pytest, ruff) and
# the kernel. Default: .venv and .venv-kernel, made by `make env`. ENV=active (command
# line only: a shell's own $ENV is ignored) uses the active conda env or virtualenv
# instead, $CONDA_PREFIX or $VIRTUAL_ENV (both set: the one first on PATH), for both;
# .venv is then neither made nor used. Every recipe runs programs as $(BIN)/<name>.
override ENVV := $(if $(filter command line,$(origin ENV)),$(strip $(value ENV)))
ifeq ($(origin ENV),command line)
  unexport ENV
endif
ifeq ($(ENVV),)
  BIN := $(VENV)/bin
  READY := $(VENV)/.ready
else ifeq ($(ENVV),active)
  override ACTIVE := $(patsubst %/bin,%,$(firstword $(filter \
    $(addsuffix /bin,$(value CONDA_PREFIX) $(value VIRTUAL_ENV)),$(subst :, ,$(value PATH)))))
  override ACTIVE := $(strip $(or $(ACTIVE),$(value VIRTUAL_ENV),$(value CONDA_PREFIX)))
  ifeq ($(ACTIVE),)
    $(error ENV=active: no active environment: neither CONDA_PREFIX nor VIRTUAL_ENV is set. \
      Activate one first (conda env create -f environment.yml; conda activate kefu-weikan), \
      or a virtualenv holding pip install -r requirements.txt, or leave out ENV=active to use .venv)
  endif
  ifneq ($(words $(ACTIVE)),1)
    $(error ENV=active: the active environment's path must not contain spaces: '$(ACTIVE)')
  endif
  BIN := $(ACTIVE)/bin
  # One stamp per checkout: the env's editable install points at one checkout at a time.
  READY := $(ACTIVE)/share/kefu-weikan/ready$(subst /,_,$(CURDIR))
else
  $(error ENV='$(ENVV)' is not a known environment: ENV=active uses the active conda env or \
    virtualenv; without ENV, make uses its own .venv)
endif
PY := $(BIN)/python
# The chart font subset's stamp (its rule is below, beside the issue's).
FONT_STAMP := $(patsubst %/bin,%,$(BIN))/share/kefu-weikan/fonts.stamp

override QV := $(strip $(value Q))
override DATAV := $(or $(strip $(value DATA)),data)
override OUTV := $(or $(strip $(value OUT)),outputs)
override REFV := $(strip $(value REF))
override SCALEV := $(or $(strip $(value SCALE)),1)
# STRICT=1: completeness warnings refuse the publish (and fail validate); 0 or empty = off.
override STRICTV := $(filter-out 0,$(strip $(value STRICT)))
# REVISE="理由": publish a correction of a released issue, for this reason (docs/decisions.md).
override REVISEV := $(strip $(value REVISE))
unexport Q DATA OUT REF SCALE STRICT REVISE
export KFWK_Q := $(QV)
export KFWK_DATA := $(DATAV)
export KFWK_OUT := $(OUTV)
export KFWK_REF := $(REFV)
export KFWK_SCALE := $(SCALEV)
export KFWK_STRICT := $(STRICTV)
export KFWK_REVISE := $(REVISEV)
# FROM/TO: the range of `make backfill`, read and checked like Q.
override FROMV := $(strip $(value FROM))
override TOV := $(strip $(value TO))
unexport FROM TO
export KFWK_FROM := $(FROMV)
export KFWK_TO := $(TOV)
export PYTHONDONTWRITEBYTECODE := 1
export UV_COMPILE_BYTECODE := 1

# Every quarter name make accepts (1900Q1 .. 2199Q4): checked with make's own text
# functions, so no shell sees an unchecked name.
DIGITS := 0 1 2 3 4 5 6 7 8 9
QUARTERS := $(foreach c,19 20 21,$(foreach d,$(DIGITS),$(foreach e,$(DIGITS),$(foreach n,1 2 3 4,$(c)$(d)$(e)Q$(n)))))
Q_OK := $(and $(filter 1,$(words $(QV))),$(if $(findstring %,$(QV)),,ok),$(filter $(QV),$(QUARTERS)))
NEEDS_Q := quarter validate figures reconcile release pdf new-quarter screenshots
ifneq ($(filter $(NEEDS_Q),$(MAKECMDGOALS)),)
  ifeq ($(QV),)
    $(error Q is required, e.g. make $(firstword $(filter $(NEEDS_Q),$(MAKECMDGOALS))) Q=2022Q1)
  endif
  ifeq ($(Q_OK),)
    $(error 不是有效的季度 / not a valid quarter: Q='$(QV)' (expected YYYYQn with n = 1-4, e.g. Q=2022Q1))
  endif
  ifneq ($(words $(DATAV) $(OUTV)),2)
    $(error DATA and OUT must be folder paths without spaces)
  endif
endif

FROM_OK := $(and $(filter 1,$(words $(FROMV))),$(if $(findstring %,$(FROMV)),,ok),$(filter $(FROMV),$(QUARTERS)))
TO_OK := $(and $(filter 1,$(words $(TOV))),$(if $(findstring %,$(TOV)),,ok),$(filter $(TOV),$(QUARTERS)))
ifneq ($(filter backfill,$(MAKECMDGOALS)),)
  ifeq ($(and $(FROMV),$(TOV)),)
    $(error FROM and TO are required, e.g. make backfill FROM=2020Q2 TO=2022Q1)
  endif
  ifeq ($(and $(FROM_OK),$(TO_OK)),)
    $(error 不是有效的季度 / not a valid quarter: FROM='$(FROMV)' TO='$(TOV)' (expected YYYYQn with n = 1-4, e.g. FROM=2020Q2 TO=2022Q1))
  endif
  ifneq ($(words $(DATAV) $(OUTV)),2)
    $(error DATA and OUT must be folder paths without spaces)
  endif
endif

ifneq ($(Q_OK),)
  ISSUE := $(OUTV)/$(QV)/issue.html
  # What an issue depends on is written by the publisher, which knows what it read
  # (helpers/publish/inputs.py), into ISSUE_INPUTS; the publisher then re-runs only the
  # stale sections. Without that list (never published, or by an older version) make
  # cannot tell, so it asks the publisher, whose no-op costs a few seconds.
  -include $(OUTV)/$(QV)/.build/inputs.mk
  ISSUE_DEPS := $(READY) $(or $(ISSUE_INPUTS),inputs-unknown)
  # The bundled sample (eight quarters) is generated on first use: the quarters
  # without a folder, never over an existing one.
  SAMPLE_QUARTERS := 2020Q2 2020Q3 2020Q4 2021Q1 2021Q2 2021Q3 2021Q4 2022Q1
  ifeq ($(DATAV)|$(wildcard data/$(QV)),data|)
    ifneq ($(filter $(QV),$(SAMPLE_QUARTERS)),)
      ISSUE_DEPS += sample-if-missing
    endif
  endif
endif

.PHONY: inputs-unknown
.PHONY: help env sample-data sample-if-missing validate figures quarter release reconcile test lint \
        bench lab new-quarter pdf clean lock backfill

help: ## Show this help (the default goal)
	@echo "客服微刊 — reproducible quarterly bulletin"
	@echo
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-13s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: Q=YYYYQn  DATA=<extracts root> (data)  OUT=<publish root> (outputs)  SCALE=N  REF=<yaml>"
	@echo "           STRICT=1: completeness warnings refuse the publish (docs/validation.md)"
	@echo "           FROM=YYYYQn TO=YYYYQn: the range of make backfill"
	@echo "           REVISE=\"理由\": publish a correction of a released issue (make release)"
	@echo "           ENV=active: use the active conda env or virtualenv instead of .venv (README)"

env: $(READY) | $(FONT_STAMP)
env: ## Create the project environment (.venv) and register the Jupyter kernel [ENV=active]

# Two environments: .venv (papermill, nbconvert, JupyterLab, tests) and a lean
# .venv-kernel that runs the notebooks, registered as the `kefu-weikan` kernel
# inside .venv so JupyterLab and papermill start the very same kernel.
$(VENV)/.ready: requirements.txt requirements-kernel.txt pyproject.toml
	@echo "==> creating environments $(VENV) and $(KVENV) (first run only, ~30 s)"
	@for v in $(VENV) $(KVENV); do \
	  test -x $$v/bin/python || $(PYTHON_SYS) -m venv $$v; done
	@$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements.txt
	@$(VENV)/bin/uv pip install --quiet --python $(KVENV)/bin/python -r requirements-kernel.txt
	@for v in $(VENV) $(KVENV); do \
	  $(VENV)/bin/uv pip install --quiet --python $$v/bin/python --no-deps -e .; done
	@$(KVENV)/bin/python -m ipykernel install --prefix $(VENV) --name $(KERNEL) \
	  --display-name "客服微刊 (Python 3)" >/dev/null 2>&1
	@# The issue's offline Vega bundle depends on vl-convert alone: made once, here.
	@$(PY) -c "from helpers.report import render; render.install_vega_bundle()"
	@# Notebook outputs never reach a diff or a commit: nbstripout as this clone's git
	@# filter (.git/config + .git/info/attributes). Skipped outside a git work tree.
	@# nbstripout 0.9 does not write --keep-id into the filter it installs (and without
	@# it renumbers the notebooks' cell ids), so the two commands are set again with it,
	@# and without the kernel's Python version, which JupyterLab writes on save.
	@# Then the index records the files' timestamps once: a fresh clone's files are as new
	@# as its index, so git compares their contents at every status, notebooks through the
	@# filter (~3 s each), and the publisher's read-only status (code_version) can never
	@# record them; it timed out (10 s) and printed "unknown". Compared through an identity
	@# filter: the checked-out files are the committed blobs.
	@if [ "$$(git rev-parse --is-inside-work-tree 2>/dev/null)" = true ]; then \
	  strip='"$(CURDIR)/$(PY)" -m nbstripout --keep-id --extra-keys metadata.language_info.version'; \
	  $(VENV)/bin/nbstripout --install --keep-id && \
	  git config filter.nbstripout.clean "$$strip" && \
	  git config diff.ipynb.textconv "$$strip -t" && \
	  { git -c filter.nbstripout.clean=cat update-index -q --refresh || true; }; fi
	@touch $@
	@echo "==> environment ready"

# ENV=active: one environment runs both the tools and the kernel (docs/decisions.md). It
# must hold the pins already (environment.yml, or pip install -r requirements.txt); make
# installs the project into it if missing (its entry points: papermill engine `kefu`,
# kernel provisioner), registers `kefu-weikan` in it with its own python, and sets up
# the nbstripout git filter if this clone has none. Remade when the pins change or the
# env's editable install of the project is rewritten (e.g. from another checkout).
ifeq ($(ENVV),active)
$(READY): requirements.txt requirements-kernel.txt pyproject.toml \
    $(wildcard $(ACTIVE)/lib/python3*/site-packages/__editable__*kefu_weikan*)
	@echo "==> ENV=active: checking the active environment $(ACTIVE)"
	@test -x $(PY) || { echo "ENV=active: $(ACTIVE) has no bin/python (conda: conda env create -f environment.yml)" >&2; exit 1; }
	@$(PY) mk/active_env.py packages
	@if ! $(PY) mk/active_env.py project; then \
	  echo "==> installing the project into $(ACTIVE) (pip install --no-deps -e .)"; \
	  $(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e . || { \
	    echo "ENV=active: could not install the project; run 'python -m pip install --no-deps -e .' in $(CURDIR)" >&2; \
	    exit 1; }; \
	  $(PY) mk/active_env.py project; fi
	@$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "客服微刊 (Python 3)" >/dev/null
	@$(PY) mk/active_env.py kernel
	@$(PY) -c "from helpers.report import render; render.install_vega_bundle()"
	@if [ "$$(git rev-parse --is-inside-work-tree 2>/dev/null)" = true ] && \
	  ! git config --get filter.nbstripout.clean >/dev/null; then \
	  strip='"$(PY)" -m nbstripout --keep-id --extra-keys metadata.language_info.version'; \
	  $(BIN)/nbstripout --install --keep-id && \
	  git config filter.nbstripout.clean "$$strip" && \
	  git config diff.ipynb.textconv "$$strip -t" && \
	  { git -c filter.nbstripout.clean=cat update-index -q --refresh || true; }; fi
	@mkdir -p $(@D)
	@touch $@
	@echo "==> $(ACTIVE) ready: kernel $(KERNEL) registered in it (ENV=active)"
endif

sample-data: $(READY) ## Write the synthetic sample (8 quarters, 2020Q2..2022Q1) into DATA [SCALE=N]
	@$(PY) -m helpers.devtools.sample --data "$$KFWK_DATA" --scale "$$KFWK_SCALE"

sample-if-missing: $(READY)
	@$(PY) -m helpers.devtools.sample --data data --scale 1 --missing-only

validate: $(READY) ## Check a quarter's extracts and completeness without publishing: make validate Q=2022Q1
	@$(PY) -m helpers.publish.cli validate "$$KFWK_Q"

figures: $(READY) ## Compute a quarter's figures only (prints metrics.json): make figures Q=2022Q1
	@$(PY) -m helpers.publish.cli figures "$$KFWK_Q"

quarter: $(ISSUE) ## Publish a quarter: make quarter Q=2022Q1 [DATA=dir] [OUT=dir] [STRICT=1] [REVISE="理由"]
	@echo "==> $(ISSUE) is up to date"

# The chart exporter's font subset holds the characters of the sources (chart titles,
# labels, categories): made after the environment (~10 s once), checked again after a
# source changed, remade only if they did (helpers/report/fonts.py). Order-only: it makes
# the exports cheaper, never different, so a remade subset leaves every issue up to date.
$(FONT_STAMP): $(READY) $(wildcard src/helpers/*.py src/helpers/*/*.py notebooks/*.ipynb)
	@$(PY) -m helpers.report.fonts
	@touch $@

# The publisher replaces the issue atomically itself: make must never delete it.
.PRECIOUS: $(ISSUE)
$(ISSUE): $(ISSUE_DEPS) | $(FONT_STAMP)
	@$(PY) -m helpers.publish.cli publish "$$KFWK_Q"

# With STRICT=1 the publisher always runs: an issue published earlier with completeness
# warnings (without STRICT) is refused too, though make alone would call it up to date.
.PHONY: strict-recheck
ifneq ($(and $(STRICTV),$(ISSUE)),)
$(ISSUE): strict-recheck
endif

# With REVISE the publisher always runs too: it decides whether the released issue changed.
.PHONY: revise-recheck
ifneq ($(and $(REVISEV),$(ISSUE)),)
$(ISSUE): revise-recheck
endif

release: $(READY) ## Mark a quarter's published issue as released: make release Q=2022Q1 [OUT=dir]
	@$(PY) -m helpers.publish.cli release "$$KFWK_Q"

# Every quarter FROM..TO with extracts, two at a time, skipping the up-to-date ones
# (helpers/publish/backfill.py); the issue's dependence on $(READY) is passed on.
backfill: export KFWK_READY := $(READY)
backfill: $(READY) | $(FONT_STAMP)
backfill: ## Publish every quarter of a range that has extracts: make backfill FROM=2020Q2 TO=2022Q1 [DATA=] [OUT=]
	@$(PY) -m helpers.publish.cli backfill "$$KFWK_FROM" "$$KFWK_TO"

reconcile: $(READY) ## Compare a quarter with a printed issue: make reconcile Q=2022Q1 REF=ref.yaml
	@$(PY) -m helpers.publish.cli reconcile "$$KFWK_Q" --ref "$${KFWK_REF:-docs/reference/$$KFWK_Q.yaml}"

test: lint | $(FONT_STAMP)
test: ## Run the whole test suite (lint, notebook hygiene, unit, end-to-end, browser)
	@$(PY) -m pytest

# ruff reads the notebooks too (cell by cell); pyproject.toml says which rules.
lint: $(READY) ## Lint and format-check the code and the notebooks (ruff)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

clean: ## Remove caches and published outputs (keeps .venv and data)
	rm -rf .cache outputs/*/ outputs/index.html outputs/bench.json

lock: ## Re-resolve requirements*.in into the pinned requirements*.txt
	@test -x $(BIN)/uv || { echo "make lock needs uv in $(BIN): $(BIN)/python -m pip install uv==$(UV_VERSION)" >&2; exit 1; }
	@$(BIN)/uv pip compile requirements.in -o requirements.txt --python-version 3.11 --no-header
	@$(BIN)/uv pip compile requirements-kernel.in -c requirements.txt \
	  -o requirements-kernel.txt --python-version 3.11 --no-header

# Analyst and proof targets (lab, new-quarter, pdf, screenshots, bench).
include mk/analyst.mk
