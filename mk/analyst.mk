# Analyst targets: JupyterLab, a new quarter's scaffold, PDF, screenshots, benchmark.
# Included at the END of the Makefile (`include mk/analyst.mk`), so $(ISSUE),
# $(Q_OK), $(PY), $(BIN), $(READY) and the KFWK_* variables are already defined.
# Command-line values (NO_BROWSER, RUNS, SCENARIOS) are read with $(value ...) and passed
# on only through the environment, as the Makefile does for Q/DATA/OUT.

override NO_BROWSERV := $(strip $(value NO_BROWSER))
override RUNSV := $(or $(strip $(value RUNS)),3)
override SCENARIOSV := $(strip $(value SCENARIOS))
unexport NO_BROWSER RUNS SCENARIOS
export KFWK_RUNS := $(RUNSV)
export KFWK_SCENARIOS := $(SCENARIOSV)

.PHONY: lab new-quarter pdf screenshots bench

# Fallback if a goal is missing from the Makefile's NEEDS_Q list (which gives the full message).
ifneq ($(filter pdf screenshots new-quarter,$(MAKECMDGOALS)),)
  ifeq ($(Q_OK),)
    $(error Q=YYYYQn is required and must be valid, e.g. make $(firstword $(filter pdf screenshots new-quarter,$(MAKECMDGOALS))) Q=2022Q1)
  endif
endif

# JupyterLab reads only the project's config (jupyter/: root notebooks/, kernel, house CSS,
# no news, no update check, no autosave) and keeps its state under <KFWK_CACHE>/jupyter/
# (runtime files, trust database, the analyst's own settings and workspaces): nothing in ~.
# As root (containers) it needs --allow-root. JUPYTER_PORT / JUPYTER_TOKEN still apply.
lab: $(READY) ## Open JupyterLab on notebooks/ with the kefu-weikan kernel [NO_BROWSER=1]
	@echo "==> JupyterLab on notebooks/ (kernel: $(KERNEL)); stop it with Ctrl-C"
	@state="$$(realpath -m -- "$${KFWK_CACHE:-.cache}")/jupyter"; \
	  export JUPYTER_CONFIG_DIR="$(CURDIR)/jupyter" JUPYTER_DATA_DIR="$$state/data" \
	    JUPYTER_RUNTIME_DIR="$$state/runtime" JUPYTERLAB_SETTINGS_DIR="$$state/user-settings" \
	    JUPYTERLAB_WORKSPACES_DIR="$$state/workspaces" IPYTHONDIR="$$state/ipython"; \
	  root=(); if [ "$$(id -u)" = 0 ]; then root=(--allow-root); fi; \
	  exec $(BIN)/jupyter lab $(if $(NO_BROWSERV),--no-browser) "$${root[@]}"

new-quarter: $(READY) ## Start a quarter: params + editorial from the last one, list the extracts: make new-quarter Q=2022Q2
	@$(PY) -m helpers.publish.scaffold "$$KFWK_Q"

ifneq ($(Q_OK),)
  PDF := $(OUTV)/$(QV)/issue.pdf
  SHOTS := $(OUTV)/$(QV)/screenshot-desktop.png

  $(PDF): $(ISSUE)
	@$(PY) -m helpers.devtools.browser pdf "$$KFWK_OUT/$$KFWK_Q/issue.html" "$$KFWK_OUT/$$KFWK_Q/issue.pdf"

  $(SHOTS): $(ISSUE)
	@$(PY) -m helpers.devtools.browser screenshots "$$KFWK_OUT/$$KFWK_Q/issue.html" "$$KFWK_OUT/$$KFWK_Q"
endif

pdf: $(PDF) ## Print a quarter's issue to A4 <OUT>/<Q>/issue.pdf (publishes first if stale): make pdf Q=2022Q1
	@echo "==> $(PDF) is up to date"

screenshots: $(SHOTS) ## Desktop + phone screenshots of a quarter's issue into <OUT>/<Q>/: make screenshots Q=2022Q1
	@echo "==> screenshots in $(OUTV)/$(QV)/ are up to date"

bench: $(READY) ## Time publishes (cold, no-op, edit, touch, SCALE=10/30), the stock peer, backfill [RUNS=3] [SCENARIOS=a,g]
	@$(PY) -m helpers.devtools.bench --runs "$$KFWK_RUNS" --scenarios "$$KFWK_SCENARIOS"
