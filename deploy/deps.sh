#!/usr/bin/env bash
# Installs the Debian packages phonetrust builds, tests and runs with,
# only those that are missing.  Safe to run again and again.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libssl-dev openssl
  libzmq3-dev liblmdb-dev lmdb-utils
  libprotobuf-c-dev protobuf-c-compiler
  check libsubunit-dev
  libinih-dev libjansson-dev libcsv-dev libxml2-dev
  jq procps python3-cryptography
  tftp-hpa atftp curl tftpd-hpa
)
# Extra packages a caller asks for (e.g. the test script's peers).
PACKAGES+=("$@")

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
