#!/usr/bin/env bash
# scripts/fuzz.sh — runs each fuzz target (fuzz/: idx, saved, saved_frame, urlstate) for
# FUZZ_SECONDS (default 60) seconds, one after the other, with cargo-fuzz on nightly Rust
# (optimised, with debug assertions and overflow checks, under AddressSanitizer).
#
#   scripts/fuzz.sh [TARGET...]     (make fuzz FUZZ_SECONDS=600 TARGETS="idx saved")
#
# Installs what is missing (the nightly toolchain, cargo-fuzz). Each target starts from the
# seed corpus in fuzz/corpus/TARGET (kept small, in git) and writes the inputs it finds to
# fuzz/work/TARGET (ignored by git): copy an input worth keeping into fuzz/corpus/TARGET
# (`cargo test --release --test fuzz_corpus` replays every file there). A crash is written
# to fuzz/artifacts/TARGET/ and stops the run with a non-zero exit; reproduce it with
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...`. The last line of each
# target's log (fuzz/work/TARGET.log) gives its executions.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/fuzz"
export PATH="$HOME/.cargo/bin:$PATH"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(idx saved saved_frame urlstate)

rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

cargo +nightly fuzz build -O -a
for t in "${TARGETS[@]}"; do
  mkdir -p "work/$t" "artifacts/$t"
  dict=()
  [[ -f "dict/$t.dict" ]] && dict=("-dict=dict/$t.dict")
  echo "== fuzz $t for ${SECONDS_EACH}s"
  # Inputs over 1 MiB are not interesting here (the readers' limits are far below that in
  # what they decompress per input byte); 2 GiB of RSS is libFuzzer's default limit.
  cargo +nightly fuzz run -O -a "$t" "work/$t" "corpus/$t" -- \
    -max_total_time="$SECONDS_EACH" -max_len=1048576 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 "${dict[@]}" 2>&1 | tee "work/$t.log" | grep -E "^(#[0-9]+.*(pulse|DONE)|stat::number_of_executed_units|==[0-9]+==|SUMMARY|Done)" || true
  if ls "artifacts/$t"/* >/dev/null 2>&1; then
    echo "fuzz: $t found inputs that fail: $(ls "artifacts/$t")" >&2
    exit 1
  fi
done
