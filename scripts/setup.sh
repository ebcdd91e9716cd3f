#!/usr/bin/env bash
# scripts/setup.sh — installs what is missing and runs the project's steps (used by the Makefile).
#
#   scripts/setup.sh run   [data args]   tools + data, `trunk build --release` (the build we test
#                                        and benchmark, relaxed-SIMD and threaded variants
#                                        included) served gzip'd by scripts/serve.mjs on
#                                        http://127.0.0.1:8080, rebuilt when sources change
#   scripts/setup.sh test  [data args]   tools + test tools + data, then cargo test --release,
#                                        trunk build --release --offline, node --test tests/e2e/
#   scripts/setup.sh build [data args]   tools + data, then trunk build --release --offline
#   scripts/setup.sh data  [data args]   only the data step (scripts/data.sh)
#   scripts/setup.sh deps | deps-test    only install the tools (for run/build | for test too)
#   scripts/setup.sh e2e                 only the browser tests (needs a built dist/)
#   scripts/setup.sh test-torch [data args]  PyTorch into .venv-torch (several GB), data,
#                                        aeplay, then tests/python/test_torch.py: train_torch.py
#                                        in one process and under torchrun (2 CPU processes)
#
# [data args] are passed to scripts/data.sh (--from DIR, --force, --source ...).
# Everything is idempotent: a tool at the right version is not reinstalled. Works as root or
# with sudo on a Debian-like machine; only crates.io, npm, PyPI and apt need to be reachable.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive

TRUNK_VERSION=0.21.14
PORT="${PORT:-8080}"
ADDRESS="${ADDRESS:-127.0.0.1}"
# Where `run` builds and serves from (the e2e smoke test of `make run` serves from a temporary
# directory so that it leaves dist/ alone).
DIST="${DIST:-dist}"

step() { echo; echo "== $*"; }
info() { echo "   $*"; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  have sudo || die "not root and no sudo: cannot install system packages"
  SUDO=sudo
fi

# --- apt --------------------------------------------------------------------------------------
APT_UPDATED=0
apt_install() { # apt_install pkg... — installs the given packages (apt-get update once per run)
  have apt-get || die "apt-get not found; install manually: $*"
  if [[ $APT_UPDATED -eq 0 ]]; then
    info "apt-get update"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  info "apt-get install $*"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
deb_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# --- Rust tools -------------------------------------------------------------------------------
# Version of the wasm-bindgen crate in Cargo.lock (trunk needs wasm-bindgen-cli at exactly this).
wasm_bindgen_lock_version() {
  [[ -f Cargo.lock ]] || { info "no Cargo.lock yet: cargo generate-lockfile"; cargo generate-lockfile; }
  awk '/^\[\[package\]\]/ { name = "" }
       /^name = "wasm-bindgen"$/ { name = "wasm-bindgen" }
       name == "wasm-bindgen" && /^version = / { gsub(/"/, "", $3); print $3; exit }' Cargo.lock
}

ensure_rust_tools() {
  step "tools: Rust, wasm32 target, nightly with rust-src, trunk $TRUNK_VERSION, wasm-bindgen-cli, wasm-opt"
  have cargo || die "cargo not found: install Rust with rustup (https://rustup.rs) first"
  have rustup || die "rustup not found: the wasm32-unknown-unknown target is installed with rustup"

  if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    info "wasm32-unknown-unknown: installed"
  else
    rustup target add wasm32-unknown-unknown
  fi

  # The threaded web build (scripts/trunk-variants.sh) compiles the standard library with
  # atomics: nightly Rust with rust-src (-Z build-std).
  if rustup run nightly rustc --version >/dev/null 2>&1; then
    info "nightly: $(rustup run nightly rustc --version)"
  else
    info "nightly Rust: installing (the threaded web build needs it)"
    rustup toolchain install nightly --profile minimal
  fi
  if rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src'; then
    info "nightly rust-src: installed"
  else
    rustup component add rust-src --toolchain nightly
  fi

  local v
  v="$(trunk --version 2>/dev/null | awk '{print $2}' || true)"
  if [[ "$v" == "$TRUNK_VERSION" ]]; then
    info "trunk $v: ok"
  else
    info "trunk: found '${v:-none}', installing $TRUNK_VERSION (takes several minutes)"
    # 0.22.x needs a newer rustc than stable here; 0.21.14 builds with --locked.
    cargo install trunk --version "$TRUNK_VERSION" --locked
  fi

  local want
  want="$(wasm_bindgen_lock_version)"
  [[ -n "$want" ]] || die "no wasm-bindgen package in Cargo.lock"
  v="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
  if [[ "$v" == "$want" ]]; then
    info "wasm-bindgen $v: ok (matches Cargo.lock)"
  else
    info "wasm-bindgen: found '${v:-none}', Cargo.lock wants $want: installing (takes minutes)"
    # Without --locked on purpose: with it the build fails (its lock file names a crate
    # version that crates.io no longer serves).
    cargo install wasm-bindgen-cli --version "$want" --force
  fi

  if have wasm-opt; then
    info "$(wasm-opt --version): ok"
  else
    apt_install binaryen
  fi
}

# --- test tools -------------------------------------------------------------------------------
ensure_test_tools() {
  step "tools: chromium, mesa-vulkan-drivers, node, playwright-core"
  local missing=()
  [[ -x /usr/bin/chromium ]] || missing+=(chromium)
  deb_installed mesa-vulkan-drivers || missing+=(mesa-vulkan-drivers)
  have node || missing+=(nodejs)
  have npm || missing+=(npm)
  if [[ ${#missing[@]} -gt 0 ]]; then apt_install "${missing[@]}"; fi
  info "$(/usr/bin/chromium --version 2>/dev/null), node $(node --version)"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [[ "$major" -ge 20 ]] || die "node $(node --version) is too old: the e2e tests need node >= 20"

  # npm ci only when package-lock.json changed since the last install (stamp in node_modules).
  local stamp=node_modules/.setup-lock.sha256 sum
  sum="$(cat package.json package-lock.json | sha256sum | cut -c1-64)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" && -d node_modules/playwright-core ]]; then
    info "node_modules: up to date"
  else
    info "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$sum" >"$stamp"
  fi

  ensure_python_test_deps
}

# ensure_venv DIR REQUIREMENTS: a virtual environment in DIR with the pinned packages of
# REQUIREMENTS, reinstalled only when that file changes (stamp in DIR).
ensure_venv() {
  local dir="$1" req="$2"
  have python3 || apt_install python3 python3-venv
  if [[ -x $dir/bin/python ]] && ! "$dir/bin/python" -c 'import sys' >/dev/null 2>&1; then
    info "$dir is broken (its Python moved?): recreating it"
    rm -rf "$dir"
  fi
  if [[ ! -x $dir/bin/python ]]; then
    if ! python3 -m venv "$dir" >/dev/null 2>&1; then
      # Debian's python3 needs python3-venv (ensurepip) for this.
      rm -rf "$dir"
      apt_install python3-venv
      python3 -m venv "$dir"
    fi
  fi
  local stamp="$dir/.setup-requirements.sha256" sum
  sum="$(sha256sum "$req" | cut -c1-64)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
    info "$dir: up to date"
  else
    info "pip install -r $req (into $dir)"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    echo "$sum" >"$stamp"
  fi
}

# Python for tests/python/check_export.py and check_torch_script.py (the PyTorch export read
# back with NumPy and safetensors, the script's process handling on stand-ins for torch).
ensure_python_test_deps() {
  step "tools: Python .venv (numpy, safetensors from tests/python/requirements.txt)"
  ensure_venv .venv tests/python/requirements.txt
  info "$(.venv/bin/python --version), $(.venv/bin/python -c 'import numpy, safetensors; print("numpy", numpy.__version__ + ", safetensors", safetensors.__version__)')"
}

# PyTorch for `make test-torch`: its own .venv-torch, never .venv (the default Linux wheel
# from PyPI brings the CUDA libraries: several GB to download and install).
ensure_torch_venv() {
  step "tools: Python .venv-torch (PyTorch from tests/python/requirements-torch.txt, several GB)"
  ensure_venv .venv-torch tests/python/requirements-torch.txt
  info "$(.venv-torch/bin/python --version), $(.venv-torch/bin/python -c 'import torch; print("torch", torch.__version__)')"
}

# --- steps ------------------------------------------------------------------------------------
data_step() {
  step "data: www/data (MNIST)"
  scripts/data.sh "$@"
}

build_step() {
  step "build: trunk build --release --offline (wasm app -> dist/)"
  trunk build --release --offline
  [[ -f dist/index.html ]] || die "trunk build did not produce dist/index.html"
  if [[ -f www/data/manifest.json && ! -f dist/data/manifest.json ]]; then
    die "dist/data/manifest.json missing: www/index.html must copy the data dir into dist/ (<link data-trunk rel=\"copy-dir\" href=\"data\" />)"
  fi
  info "dist/: $(du -sh dist | cut -f1)"
}

native_tests() {
  step "test: cargo test --release (native)"
  # GPU tests run on Mesa's lavapipe (Vulkan on the CPU); here a missing adapter is a
  # failure, not a skip.
  AEPLAY_REQUIRE_GPU=1 cargo test --release
}

e2e_tests() {
  step "test: browser end-to-end tests (node --test tests/e2e/)"
  [[ -f dist/index.html ]] || die "dist/ is not built: run 'make build' first"
  [[ -d node_modules/playwright-core ]] || die "node_modules missing: run 'make deps-test' first"
  # One test file at a time: the tests time training on a small machine. The summary is
  # checked too, so that no test is silently skipped (or none found).
  local log
  log="$(mktemp)"
  local rc=0
  node --test --test-concurrency=1 --test-reporter=spec tests/e2e/ 2>&1 | tee "$log" || rc=$?
  local tests skipped todo
  tests="$(sed -n 's/^ℹ tests \([0-9]*\)$/\1/p' "$log")"
  skipped="$(sed -n 's/^ℹ skipped \([0-9]*\)$/\1/p' "$log")"
  todo="$(sed -n 's/^ℹ todo \([0-9]*\)$/\1/p' "$log")"
  rm -f "$log"
  [[ $rc -eq 0 ]] || die "browser tests failed (see above)"
  [[ "${tests:-0}" -gt 0 ]] || die "no browser tests ran"
  [[ "${skipped:-0}" -eq 0 && "${todo:-0}" -eq 0 ]] || die "browser tests skipped: $skipped, todo: $todo (nothing may be skipped)"
  info "browser tests: $tests passed"
}

# When sourced (e.g. to try one function), stop here.
[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
  run)
    ensure_rust_tools
    data_step "$@"
    step "build: trunk build --release (the release build, with its relaxed-SIMD and threaded variants)"
    trunk build --release --offline --dist "$DIST"
    step "serve: scripts/serve.mjs (gzip'd and cross-origin isolated, as a static host serves it), rebuilt by trunk watch"
    echo
    echo "   ==> Autoencoder Playground: http://$ADDRESS:$PORT  (Ctrl-C to stop)"
    echo "       A change to the sources rebuilds it (reload the page to see it). A static copy"
    echo "       for any web server: make build (dist/)."
    echo
    # trunk serve does not compress, and a first visit over a slow link is what the page is
    # measured on: our own static server serves dist/, trunk watch keeps it built (the two
    # stop together: one process group).
    trunk watch --release --offline --dist "$DIST" --ignore "$DIST" >"${TMPDIR:-/tmp}/aeplay-trunk-watch.log" 2>&1 &
    exec node scripts/serve.mjs --dist "$DIST" --address "$ADDRESS" --port "$PORT"
    ;;
  test)
    ensure_rust_tools
    ensure_test_tools
    data_step "$@"
    native_tests
    build_step
    e2e_tests
    step "all tests passed"
    ;;
  build)
    ensure_rust_tools
    data_step "$@"
    build_step
    ;;
  test-torch)
    have cargo || die "cargo not found: install Rust with rustup (https://rustup.rs) first"
    ensure_torch_venv
    data_step "$@"
    step "build: cargo build --release --bin aeplay"
    cargo build --release --bin aeplay
    step "test: train_torch.py in one process and under torchrun (tests/python/test_torch.py)"
    .venv-torch/bin/python tests/python/test_torch.py --aeplay target/release/aeplay --data www/data
    ;;
  data) data_step "$@" ;;
  deps) ensure_rust_tools ;;
  deps-test) ensure_rust_tools; ensure_test_tools ;;
  e2e) e2e_tests ;;
  *) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; [[ -z "$cmd" || "$cmd" == -h || "$cmd" == --help ]] || exit 2 ;;
esac
