#!/bin/sh
# Rebuilds the schema-1 fixture (see README) from the commit before schema
# 2.  Usage: make.sh OUTDIR   (OUTDIR/node is written; copy it over
# tests/data/store-schema1/node to replace the fixture).
set -eu
COMMIT=d5c928c
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
out=$1
work=$(mktemp -d)
trap 'git -C "$repo" worktree remove --force "$work/src" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git -C "$repo" worktree add --detach "$work/src" "$COMMIT" >/dev/null
cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" -j2 --target phonetrust pt_store >/dev/null
P="$work/build/cli/phonetrust"
d="$work/node"

echo "fixture password" >"$work/pw"
"$P" --data "$d" init --name pub1 --role publisher --address 127.0.0.1 \
	--password-file "$work/pw" --key-type ec256 --days 3650 >/dev/null
"$P" --data "$d" profile add "Fixture SIP" --protocol sip --mode encrypted \
	--tftp-encrypted-config yes --auth-mode string >/dev/null
"$P" --data "$d" device add SEP000000000001 --model 8841 \
	--security-profile "Fixture SIP" --auth-string 135790 >/dev/null
printf 'digest-secret\n' >"$work/digest"
"$P" --data "$d" device add SEP000000000002 --model 8841 \
	--digest-user alice --digest-password "file:$work/digest" >/dev/null
"$P" --data "$d" device add SEP000000000003 --model 7975 --protocol sccp \
	--generate-symmetric-key >/dev/null
"$P" --data "$d" device add SEP000000000004 --model 7975 --protocol sccp \
	--description "untouched by the upgrade" >/dev/null
"$P" --data "$d" capf profile add ctiapp1 --user appuser \
	--auth-string 24680 >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/cm.key" -out "$work/cm.pem" -days 3650 \
	-subj "/CN=fixture-callmanager" 2>/dev/null
"$P" --data "$d" trust add "$work/cm.pem" --purpose callmanager >/dev/null

cc -std=gnu11 -o "$work/craft" "$here/craft.c" \
	-I"$work/src/node" -I"$work/build/proto" \
	"$work/build/node/libpt_store.a" "$work/build/node/libpt_lib.a" \
	"$work/build/proto/libpt_proto.a" \
	-llmdb -lprotobuf-c -lssl -lcrypto -lxml2 -lcsv -lzmq
"$work/craft" "$d"

# Compact copy: the fixture holds only live pages.
mkdir -p "$out/node/store"
mdb_copy -c "$d/store" "$out/node/store"
cp -r "$d/keys" "$d/certs" "$out/node/"
chmod 600 "$out/node/store/data.mdb"
