#!/usr/bin/env bash
# Builds phonetrust twice (a warnings-as-errors build and an ASan+UBSan
# build) and runs the whole suite with ctest in each.  Installs missing
# Debian packages first.  Usage: ./deploy/test.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)

build() {
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPT_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

echo "== normal build"
build build
echo "== sanitizer build (ASan + UBSan)"
build build-asan -DPT_SANITIZE=ON

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "== fuzz targets (short runs)"
PT_FUZZ_SECONDS=${PT_FUZZ_SECONDS:-10} ./deploy/fuzz.sh

echo "== tests: normal build"
(cd build && ctest --output-on-failure -j "$jobs" "$@")
echo "== tests: sanitizer build"
# The kill -9 migration test runs at its full 100,000 devices in the normal
# build above; under the sanitizers the same paths are exercised on fewer.
(cd build-asan &&
  PT_TEST_MIGRATE_DEVICES=${PT_TEST_MIGRATE_DEVICES:-20000} \
  ctest --output-on-failure -j "$jobs" "$@")
