#!/usr/bin/env bash
# scripts/trunk-relaxed-simd.sh — Trunk post_build hook (Trunk.toml): in release builds, builds
# the web app a second time with wasm `relaxed-simd` (fused multiply-add in the CPU backend's
# matrix kernels) next to Trunk's plain-simd128 build, and rewrites the staged index.html so
# the page picks one at load time: a browser whose WebAssembly.validate() accepts a
# relaxed-simd instruction gets web-relaxed*.{js,wasm}, any other browser the simd128 build
# (a module that uses relaxed-simd would not even load there). In every build the loader
# records the module it loaded (window.__aeplayModule), so that the training worker
# (www/worker.js) runs the same build.
#
# Last, the service worker (www/sw.js) gets the build's version and files (scripts/sw-build.mjs).
#
# AEPLAY_RELAXED_SIMD=0 skips the second build. It has its own target directory (different
# RUSTFLAGS would otherwise invalidate the first one's cache).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
staging=${TRUNK_STAGING_DIR:?run by trunk as a post_build hook}
if [[ "${TRUNK_PROFILE:-}" != "release" || "${AEPLAY_RELAXED_SIMD:-1}" == 0 ]]; then
  node "$root/scripts/trunk-relaxed-simd-html.mjs" "$staging/index.html"
  node "$root/scripts/sw-build.mjs" "$staging"
  exit 0
fi
target_dir="${CARGO_TARGET_DIR:-$root/target}/relaxed-simd"
echo "relaxed-simd: cargo build (target dir $target_dir)"
RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd" CARGO_TARGET_DIR="$target_dir" \
  cargo build --release --target wasm32-unknown-unknown --bin web --manifest-path "$root/Cargo.toml"
wasm-bindgen --target web --no-typescript --out-dir "$staging" --out-name web-relaxed \
  "$target_dir/wasm32-unknown-unknown/release/web.wasm"
node "$root/scripts/trunk-relaxed-simd-html.mjs" "$staging/index.html" --relaxed
# The service worker learns the build (version, files, modules): scripts/sw-build.mjs.
node "$root/scripts/sw-build.mjs" "$staging"
