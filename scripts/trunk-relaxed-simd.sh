#!/usr/bin/env bash
# scripts/trunk-relaxed-simd.sh — Trunk post_build hook (Trunk.toml): in release builds, builds
# the web app a second time with wasm `relaxed-simd` (fused multiply-add in the CPU backend's
# matrix kernels) next to Trunk's plain-simd128 build, and rewrites the staged index.html so
# the page picks one at load time: a browser whose WebAssembly.validate() accepts a
# relaxed-simd instruction gets web-relaxed*.{js,wasm}, any other browser the simd128 build
# (a module that uses relaxed-simd would not even load there).
#
# AEPLAY_RELAXED_SIMD=0 skips it (one build only). The second build has its own target
# directory (different RUSTFLAGS would otherwise invalidate the first one's cache).
set -euo pipefail
[[ "${TRUNK_PROFILE:-}" == "release" ]] || exit 0
[[ "${AEPLAY_RELAXED_SIMD:-1}" != 0 ]] || exit 0
root=$(cd "$(dirname "$0")/.." && pwd)
staging=${TRUNK_STAGING_DIR:?run by trunk as a post_build hook}
target_dir="${CARGO_TARGET_DIR:-$root/target}/relaxed-simd"
echo "relaxed-simd: cargo build (target dir $target_dir)"
RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd" CARGO_TARGET_DIR="$target_dir" \
  cargo build --release --target wasm32-unknown-unknown --bin web --manifest-path "$root/Cargo.toml"
wasm-bindgen --target web --no-typescript --out-dir "$staging" --out-name web-relaxed \
  "$target_dir/wasm32-unknown-unknown/release/web.wasm"
node "$root/scripts/trunk-relaxed-simd-html.mjs" "$staging/index.html"
