#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a short time
# (PT_FUZZ_SECONDS, default 15) from its seed corpus.  A crash fails the
# script and leaves the reproducer in build-fuzz/artifacts/.
# Usage: ./deploy/fuzz.sh [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/deps.sh

seconds=${PT_FUZZ_SECONDS:-15}
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPT_FUZZ=ON -DPT_WERROR=ON >/dev/null
cmake --build build-fuzz --target fuzzers -j "$(nproc 2>/dev/null || echo 2)"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.c; do
    [ -e "$src" ] || continue
    targets+=("$(basename "$src" .c)")
  done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no fuzz targets yet"
  exit 0
fi

mkdir -p build-fuzz/artifacts
for t in "${targets[@]}"; do
  bin=build-fuzz/tests/fuzz/$t
  seeds=tests/fuzz/corpus/${t#fuzz_}
  work=build-fuzz/corpus/${t#fuzz_}
  mkdir -p "$work"
  args=("$work")
  [ -d "$seeds" ] && args+=("$seeds")
  echo "== fuzz $t for ${seconds}s"
  log=build-fuzz/$t.log
  rc=0
  "$bin" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix=build-fuzz/artifacts/"$t"- "${args[@]}" >"$log" 2>&1 || rc=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
  if [ "$rc" -ne 0 ]; then
    grep -E -A20 '==[0-9]+==ERROR|SUMMARY|deadly signal' "$log" | head -60
    echo "fuzz: $t failed (exit $rc); reproducer in build-fuzz/artifacts/"
    exit 1
  fi
done
echo "fuzz: all targets ran clean"
