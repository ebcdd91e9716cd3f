#!/usr/bin/env bash
# scripts/trunk-variants.sh — Trunk post_build hook (Trunk.toml): in release builds, builds the
# web app three more times next to Trunk's own (plain simd128) build, and rewrites the staged
# index.html so the page picks one at load time (scripts/trunk-variants-html.mjs):
#
#   simd128               Trunk's build: any browser with WebAssembly SIMD
#   relaxed-simd          + relaxed-simd (fused multiply-add in the CPU kernels), where the
#                         browser validates a relaxed-simd instruction
#   threads               + atomics, bulk-memory, mutable-globals: shared memory, the CPU
#                         kernels on a rayon pool of Web Workers (wasm-bindgen-rayon), where
#                         the page is cross-origin isolated
#   threads+relaxed-simd  both
#
# The threaded builds need nightly Rust with rust-src (-Z build-std: the standard library
# compiled with atomics); scripts/setup.sh installs them. Each variant has its own target
# directory (different RUSTFLAGS would otherwise invalidate each other's cache).
#
# Last, the service worker (www/sw.js) gets the build's version and files (scripts/sw-build.mjs).
#
# AEPLAY_RELAXED_SIMD=0 skips the relaxed-simd variants, AEPLAY_THREADS=0 the threaded ones
# (a quicker build; the page then picks among what there is).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
staging=${TRUNK_STAGING_DIR:?run by trunk as a post_build hook}
target="${CARGO_TARGET_DIR:-$root/target}"
relaxed=${AEPLAY_RELAXED_SIMD:-1}
threads=${AEPLAY_THREADS:-1}
if [[ "${TRUNK_PROFILE:-}" != "release" ]]; then
  relaxed=0
  threads=0
fi

# build NAME FEATURES [nightly]: cargo build of the `web` binary with these target features,
# then wasm-bindgen into the staging directory as NAME.js / NAME_bg.wasm.
build() {
  local name=$1 features=$2 nightly=${3:-}
  local dir="$target/$name"
  local t0=$SECONDS
  if [[ -n "$nightly" ]]; then
    echo "$name: cargo +nightly build -Z build-std (target dir $dir)"
    # Shared memory (imported, so that the pool's workers share it; at most 4 GiB, the most
    # a wasm32 memory has) and the thread-local storage exports that wasm-bindgen's
    # threads support sets up in each worker.
    local link="-C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296"
    link+=" -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size"
    link+=" -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base"
    RUSTFLAGS="-C target-feature=$features $link" CARGO_TARGET_DIR="$dir" \
      cargo +nightly build -Z build-std=panic_abort,std --release --target wasm32-unknown-unknown \
      --bin web --manifest-path "$root/Cargo.toml"
  else
    echo "$name: cargo build (target dir $dir)"
    RUSTFLAGS="-C target-feature=$features" CARGO_TARGET_DIR="$dir" \
      cargo build --release --target wasm32-unknown-unknown --bin web --manifest-path "$root/Cargo.toml"
  fi
  wasm-bindgen --target web --no-typescript --out-dir "$staging" --out-name "web-$name" \
    "$dir/wasm32-unknown-unknown/release/web.wasm"
  echo "$name: built in $((SECONDS - t0)) s"
}

flags=()
if [[ "$relaxed" != 0 ]]; then
  build relaxed +simd128,+relaxed-simd
  flags+=(--relaxed)
fi
if [[ "$threads" != 0 ]]; then
  if ! rustup run nightly rustc --version >/dev/null 2>&1 \
    || ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src'; then
    echo "the threaded build needs nightly Rust with rust-src: scripts/setup.sh deps installs them (or AEPLAY_THREADS=0)" >&2
    exit 1
  fi
  mt=+atomics,+bulk-memory,+mutable-globals,+simd128
  build threads "$mt" nightly
  if [[ "$relaxed" != 0 ]]; then
    build threads-relaxed "$mt,+relaxed-simd" nightly
  fi
  flags+=(--threads)
fi
node "$root/scripts/trunk-variants-html.mjs" "$staging/index.html" "${flags[@]}"
# The service worker learns the build (version, files, modules): scripts/sw-build.mjs.
node "$root/scripts/sw-build.mjs" "$staging"
