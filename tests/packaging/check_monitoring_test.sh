#!/bin/bash
# check_monitoring_test.sh: check_monitoring.py passes on the shipped dashboard and rules, and fails, naming the problem, on broken copies of them.
# Usage: check_monitoring_test.sh SOURCE_DIR
set -u -o pipefail
SRC=$1
CHECK="python3 $SRC/tests/packaging/check_monitoring.py"
DASH=$SRC/packaging/grafana/switchyard-dashboard.json
RULES=$SRC/packaging/prometheus/switchyard-rules.yml
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failed=0

# expect_failure WHAT PATTERN DASHBOARD RULES: the check exits 1 and prints PATTERN.
expect_failure() {
  local what=$1 pattern=$2 out
  out=$($CHECK "$SRC" "$3" "$4" 2>&1)
  local rc=$?
  if [ "$rc" -ne 1 ] || ! grep -qF -- "$pattern" <<<"$out"; then
    echo "FAIL: $what: expected exit 1 and '$pattern', got exit $rc:"
    sed 's/^/  | /' <<<"$out"
    failed=1
  else
    echo "PASS: $what"
  fi
}
# mutate_dashboard PYTHON_STATEMENT OUT: a copy of the dashboard with d (the JSON) changed.
mutate_dashboard() {
  python3 -c "import json,sys; d=json.load(open('$DASH')); $1; json.dump(d, open('$2','w'))"
}

if out=$($CHECK "$SRC" "$DASH" "$RULES" 2>&1); then
  echo "PASS: the shipped dashboard and rules"
else
  echo "FAIL: the shipped dashboard and rules:"; sed 's/^/  | /' <<<"$out"; failed=1
fi

mutate_dashboard "d['panels'][2]['id'] = d['panels'][1]['id']" "$T/dup.json"
expect_failure "duplicate panel id" "is also used by panel" "$T/dup.json" "$RULES"

mutate_dashboard "d['panels'][1]['targets'][0]['expr'] = 'rate(switchyard_queue_depht[5m])'" "$T/name.json"
expect_failure "unknown metric in a panel" "metric switchyard_queue_depht is not exported" "$T/name.json" "$RULES"

mutate_dashboard "d['panels'][1]['targets'][0]['expr'] = 'sum by (source (switchyard_queue_depth)'" "$T/syntax.json"
expect_failure "PromQL syntax error" "promtool check rules failed" "$T/syntax.json" "$RULES"

mutate_dashboard "del d['schemaVersion']" "$T/schema.json"
expect_failure "no schemaVersion" "schemaVersion is missing" "$T/schema.json" "$RULES"

mutate_dashboard "d['panels'][1]['targets'][0]['expr'] = 'switchyard_queue_depth{source=~\"\$sauce\"}'" "$T/var.json"
expect_failure "undefined variable" "\$sauce is not a dashboard variable" "$T/var.json" "$RULES"

printf '{"title": "x", ' >"$T/truncated.json"
expect_failure "not JSON" "not valid JSON" "$T/truncated.json" "$RULES"

sed 's/switchyard_handler_stuck)/switchyard_handler_stuk)/' "$RULES" >"$T/rules.yml"
expect_failure "unknown metric in a rule" "metric switchyard_handler_stuk is not exported" "$DASH" "$T/rules.yml"

exit $failed
