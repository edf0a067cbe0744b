#!/usr/bin/env bash
# check_layers_test.sh: runs scripts/check-layers on copies of runtime/, each with one fault
# against the layering, and checks that it fails naming the fault (and passes on a clean copy).
# Usage: check_layers_test.sh REPOSITORY_ROOT
set -euo pipefail
repo=${1:?usage: check_layers_test.sh REPOSITORY_ROOT}
checker="$repo/scripts/check-layers"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# fresh_copy: $work/tree/runtime, a copy of the repository's runtime/.
fresh_copy() {
  rm -rf "$work/tree"
  mkdir -p "$work/tree"
  cp -r "$repo/runtime" "$work/tree/runtime"
}

# expect CASE STATUS TEXT: the checker on the copy exits with STATUS and prints TEXT.
expect() {
  local case=$1 status=$2 text=$3 got=0 output
  output=$("$checker" "$work/tree" 2>&1) || got=$?
  if [ "$got" -ne "$status" ] || ! grep -qF -- "$text" <<< "$output"; then
    echo "FAIL: $case: expected exit $status and \"$text\"; got exit $got:"
    echo "$output"
    failures=$((failures + 1))
  else
    echo "ok: $case"
  fi
}

fresh_copy
expect "a clean copy passes" 0 "check-layers: ok"

# A bottom-layer file that includes the top layer: the line of the include is named.
fresh_copy
file=$(cd "$work/tree/runtime" && ls util/*.cc | head -n 1)
lines=$(wc -l < "$work/tree/runtime/$file")
echo '#include "cli/commands.h"' >> "$work/tree/runtime/$file"
expect "util includes cli" 1 "runtime/$file:$((lines + 1)): util/ includes cli/"

# A header that includes a layer above it (the http endpoint and the pipeline it must not see).
fresh_copy
sed -i '0,/^#include "/s//#include "dispatch\/pipeline.h"\n#include "/' \
  "$work/tree/runtime/ops/http_endpoint.h"
expect "ops includes dispatch" 1 "runtime/ops/http_endpoint.h:"
expect "ops includes dispatch (message)" 1 "ops/ includes dispatch/"

# A layer that links one declared after it (a cycle in the making).
fresh_copy
sed -i "s/^switchyard_layer(util /switchyard_layer(util PRIVATE switchyard_cli /" \
  "$work/tree/runtime/CMakeLists.txt"
expect "util links cli" 1 "layer util links switchyard_cli, which is not declared before it"

# A folder that no switchyard_layer block declares.
fresh_copy
mkdir "$work/tree/runtime/extra"
echo '#include "util/status.h"' > "$work/tree/runtime/extra/extra.cc"
expect "undeclared folder" 1 "runtime/extra/: not declared"

[ "$failures" -eq 0 ] || { echo "$failures case(s) failed"; exit 1; }
echo "all cases passed"
