# vault-irsa-runbook — `make` alone lists the targets.
SHELL := /bin/bash
# Recipes never read the user's ~/.bashrc: bash sources it when its stdin is a socket (as
# when make is run by a program: CI, make bench), and an rc file with a version manager in it
# costs a tenth of a second per recipe.
.SHELLFLAGS := --norc -c
.DEFAULT_GOAL := help
TSX := node --import tsx
STEP_FILE = $(firstword $(wildcard runbook/$(1)-*.ts))
# What users run is the bundle in dist/ (build.mjs), never the TypeScript through tsx:
# runbook/NN-name.ts runs as dist/runbook/NN-name.js, lab/lib/cli.ts as dist/lab/cli.js.
JS = $(patsubst %.ts,dist/%.js,$(1))
# Everything dist/ is built from; a newer one (or an added or removed file: its folder's
# time changes) makes make rebuild before anything runs, so stale output never runs.
# lab/lib/node-run checks the same list.
# (make's own wildcard, two folder levels deep: no process is started to list them.)
BUILD_INPUTS := build.mjs package-lock.json lib runbook lab/lib $(wildcard lib/*/ runbook/*/ lab/lib/*/) \
  $(wildcard lib/*.ts lib/*/*.ts runbook/*.ts runbook/*/*.ts lab/lib/*.ts lab/lib/*/*.ts)
# The lab's variables, for targets that run against it. A failing lab/bin/env must
# stop the recipe: `eval "$$(...)"` alone would go on without them (against real AWS).
LAB_ENV = lab_env="$$(lab/bin/env)" && eval "$$lab_env" &&

.PHONY: help deps build all plan check verify troubleshoot teardown reference lab lab-up lab-down lab-env lab-status lab-reset lab-break lab-images test bench typecheck

help: ## list the targets (and: make step-NN, one step; DRY_RUN=1 or PRINT=1 to only show it)
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):.*## (.*)/  make \1\t\2/' | expand -t 24

# npm ci builds dist/ too (the prepare script); the stamp keeps the time npm ci started,
# so that build counts as newer and is not done twice.
node_modules/.installed: package.json package-lock.json
	@t="$$(mktemp)" && npm ci --no-audit --no-fund --loglevel=error && touch -r "$$t" $@; s=$$?; rm -f "$$t"; exit $$s

dist/.built: node_modules/.installed $(BUILD_INPUTS)
	@node build.mjs

build: dist/.built ## bundle the scripts into dist/ (make does it by itself when a source changed)

deps: node_modules/.installed dist/.built ## install the Node dependencies (npm ci) and build dist/

step-%: deps ## run one step, e.g. make step-03 (DRY_RUN=1 or PRINT=1 to only show it)
	@f="$(call STEP_FILE,$*)"; [ -n "$$f" ] || { echo "no step $* in runbook/ (make help)"; exit 2; }; node "$(call JS,$(call STEP_FILE,$*))" $(ARGS)

check-%: deps ## grade one step against live state, e.g. make check-03: "matches", or the difference and the fix; never writes (exit 10: differs)
	@f="$(call STEP_FILE,$*)"; [ -n "$$f" ] || { echo "no step $* in runbook/ (make help)"; exit 2; }; \
	case "$*" in 13) echo "step 13 fixes known failures, it has nothing to grade: make troubleshoot"; exit 2;; esac; \
	node "$(call JS,$(call STEP_FILE,$*))" --check $(ARGS)

all: deps ## run every step 01-12 in order, in one process
	@node $(call JS,runbook/all.ts) $(ARGS)

plan: deps ## every step as a dry run: the diff and the commands, nothing written
	@node $(call JS,runbook/all.ts) --dry-run $(ARGS)

check: deps ## grade every step 01-12 at once (make check-NN: one step), with a one-line score; never writes (exit 10: a step differs)
	@node $(call JS,runbook/all.ts) --check $(ARGS)

verify: deps ## prove the whole IRSA -> STS -> Vault -> KV chain (step 12)
	@node $(call JS,$(call STEP_FILE,12)) $(ARGS)

troubleshoot: deps ## recognise and explain known failures; --yes applies the fixes (step 13)
	@node $(call JS,$(call STEP_FILE,13)) $(ARGS)

teardown: deps ## delete what the runbook created, in reverse order
	@node $(call JS,runbook/teardown.ts) $(ARGS)

reference: deps ## regenerate docs/RUNBOOK.md, the copy-paste reference
	@node $(call JS,runbook/reference.ts) > docs/RUNBOOK.md && echo "wrote docs/RUNBOOK.md"

lab-up: deps ## start the local lab (installs its pinned tools on first use; LAB_MODE=process or docker, unset: the one that can work here)
	@lab/bin/up

lab-down: deps ## stop the lab's processes (Docker mode: and remove its containers and network)
	@lab/bin/down

lab-env: ## print export lines for the lab: eval "$$(make -s lab-env)"
	@lab/bin/env

lab-status: deps ## one line per lab service
	@lab/bin/status

lab-reset: deps ## fresh lab servers and empty state (workshops)
	@lab/bin/reset

lab-break: deps ## workshop scenarios: list them; SCENARIO=<name> breaks the lab (HINT=N: hints, ANSWER=1: the answer)
	@lab/bin/break $(if $(SCENARIO),$(if $(HINT),--hint '$(SCENARIO)' '$(HINT)',$(if $(ANSWER),--answer '$(SCENARIO)','$(SCENARIO)'))) $(ARGS)

lab-images: deps ## build Docker mode's images locally from the process lab's tools (LAB_IMAGES=local uses them)
	@lab/bin/images

lab: lab-up ## the main job: lab up, every step, verify, summary table
	@$(LAB_ENV) node $(call JS,runbook/all.ts) --yes $(ARGS)

test: deps ## type check, unit tests and the lab integration tests (starts the lab if needed)
	@LAB_VAULT_CLI=1 LAB_AWS_CLI=1 LAB_K8S=1 lab/bin/up
	@$(TSX) test/run.ts $(ARGS)

bench: deps lab-up ## benchmarks: bench/results.json and a markdown table
	@$(LAB_ENV) $(TSX) bench/run.ts $(ARGS)

typecheck: deps ## tsc --noEmit
	@npx tsc --noEmit
