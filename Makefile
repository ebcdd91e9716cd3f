# Makefile — entry points for Autoencoder Playground. The work is done by scripts/setup.sh
# (installs missing tools, idempotent) and scripts/data.sh (MNIST into www/data/).
#
#   make run        install what is missing, prepare data, serve on http://127.0.0.1:8080
#   make test       install test tools too, prepare data, cargo test --release,
#                   trunk build --release --offline, browser e2e tests (node --test tests/e2e/)
#   make build      the wasm build into dist/ (prepares data first: dist/data needs it)
#   make data       only the data step; FROM=DIR copies the official files from DIR,
#                   FORCE=1 redoes it, SOURCE=auto|dir|download|npm picks the source
#   make deps       install the build tools only; make deps-test: the test tools too
#   make e2e        only the browser tests, against the current dist/
#   make bench-web  browser benchmark: our wasm CPU path vs TensorFlow.js (wasm, cpu, webgpu)
#                   on dae_vincent, JSON lines + ratios (BENCH_ARGS="--batch 16 --steps 20")
#   make fuzz       each fuzz target (idx, saved, saved_frame, urlstate) for FUZZ_SECONDS s
#                   (default 60; TARGETS="idx saved" for some), cargo-fuzz on nightly
#   make clean      remove dist/ (data and cargo's target/ stay)

DATA_ARGS := $(if $(FROM),--from $(FROM)) $(if $(filter 1 yes true,$(FORCE)),--force) $(if $(SOURCE),--source $(SOURCE))

.PHONY: run test build data deps deps-test e2e bench-web fuzz clean help

help:
	@sed -n '4,17p' Makefile | sed 's/^# \{0,1\}//'

run:
	@scripts/setup.sh run $(DATA_ARGS)

test:
	@scripts/setup.sh test $(DATA_ARGS)

build:
	@scripts/setup.sh build $(DATA_ARGS)

data:
	@scripts/setup.sh data $(DATA_ARGS)

deps:
	@scripts/setup.sh deps

deps-test:
	@scripts/setup.sh deps-test

e2e:
	@scripts/setup.sh e2e

bench-web: deps-test build
	@node scripts/bench-web.mjs $(BENCH_ARGS)

fuzz:
	@FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) scripts/fuzz.sh $(TARGETS)

clean:
	rm -rf dist
