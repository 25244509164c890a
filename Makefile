# vault-irsa-runbook — `make` alone lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
TSX := node --import tsx
STEP_FILE = $(firstword $(wildcard runbook/$(1)-*.ts))
# The lab's variables, for targets that run against it. A failing lab/bin/env must
# stop the recipe: `eval "$$(...)"` alone would go on without them (against real AWS).
LAB_ENV = lab_env="$$(lab/bin/env)" && eval "$$lab_env" &&

.PHONY: help deps all plan check verify troubleshoot teardown reference lab lab-up lab-down lab-env lab-status lab-reset lab-break test bench typecheck

help: ## list the targets (and: make step-NN, one step; DRY_RUN=1 or PRINT=1 to only show it)
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):.*## (.*)/  make \1\t\2/' | expand -t 24

node_modules/.installed: package.json package-lock.json
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: node_modules/.installed ## install the Node dependencies (npm ci)

step-%: deps ## run one step, e.g. make step-03 (DRY_RUN=1 or PRINT=1 to only show it)
	@f="$(call STEP_FILE,$*)"; [ -n "$$f" ] || { echo "no step $* in runbook/ (make help)"; exit 2; }; $(TSX) "$$f" $(ARGS)

check-%: deps ## grade one step against live state, e.g. make check-03: "matches", or the difference and the fix; never writes (exit 10: differs)
	@f="$(call STEP_FILE,$*)"; [ -n "$$f" ] || { echo "no step $* in runbook/ (make help)"; exit 2; }; \
	case "$*" in 13) echo "step 13 fixes known failures, it has nothing to grade: make troubleshoot"; exit 2;; esac; \
	$(TSX) "$$f" --check $(ARGS)

all: deps ## run every step 01-12 in order, in one process
	@$(TSX) runbook/all.ts $(ARGS)

plan: deps ## every step as a dry run: the diff and the commands, nothing written
	@$(TSX) runbook/all.ts --dry-run $(ARGS)

check: deps ## grade every step 01-12 at once (make check-NN: one step), with a one-line score; never writes (exit 10: a step differs)
	@$(TSX) runbook/all.ts --check $(ARGS)

verify: deps ## prove the whole IRSA -> STS -> Vault -> KV chain (step 12)
	@$(TSX) $(call STEP_FILE,12) $(ARGS)

troubleshoot: deps ## recognise and explain known failures; --yes applies the fixes (step 13)
	@$(TSX) $(call STEP_FILE,13) $(ARGS)

teardown: deps ## delete what the runbook created, in reverse order
	@$(TSX) runbook/teardown.ts $(ARGS)

reference: deps ## regenerate docs/RUNBOOK.md, the copy-paste reference
	@$(TSX) runbook/reference.ts > docs/RUNBOOK.md && echo "wrote docs/RUNBOOK.md"

lab-up: deps ## start the local lab (installs its pinned tools on first use; LAB_MODE=process)
	@lab/bin/up

lab-down: deps ## stop the lab's processes
	@lab/bin/down

lab-env: ## print export lines for the lab: eval "$$(make -s lab-env)"
	@lab/bin/env

lab-status: deps ## one line per lab service
	@lab/bin/status

lab-reset: deps ## fresh lab servers and empty state (workshops)
	@lab/bin/reset

lab-break: deps ## workshop scenarios: list them; SCENARIO=<name> breaks the lab (HINT=N: hints, ANSWER=1: the answer)
	@lab/bin/break $(if $(SCENARIO),$(if $(HINT),--hint '$(SCENARIO)' '$(HINT)',$(if $(ANSWER),--answer '$(SCENARIO)','$(SCENARIO)'))) $(ARGS)

lab: lab-up ## the main job: lab up, every step, verify, summary table
	@$(LAB_ENV) $(TSX) runbook/all.ts --yes $(ARGS)

test: deps ## type check, unit tests and the lab integration tests (starts the lab if needed)
	@LAB_VAULT_CLI=1 LAB_AWS_CLI=1 LAB_K8S=1 lab/bin/up
	@$(TSX) test/run.ts $(ARGS)

bench: lab-up ## benchmarks: bench/results.json and a markdown table
	@$(LAB_ENV) $(TSX) bench/run.ts $(ARGS)

typecheck: deps ## tsc --noEmit
	@npx tsc --noEmit
