#!/usr/bin/env python3
# check_monitoring.py: validates the shipped Grafana dashboard and Prometheus rules against the metrics the runtime exports, with promtool for PromQL syntax.
#
# Usage: check_monitoring.py SOURCE_DIR DASHBOARD_JSON RULES_YML
# Checks: the dashboard is JSON with schemaVersion, a uid and a title; panel ids are unique; every
# panel has a gridPos and queries with an expr; every $variable used is defined; every metric
# name in the dashboard and the rules is one the runtime exports (named in runtime/ sources, or
# in ALSO_ACCEPTED below); every expr parses (`promtool check rules` on a generated file, with the
# Grafana variables substituted). Prints one line per problem; exits 1 on any.
import json
import os
import re
import subprocess
import sys
import tempfile

# Metric names the dashboard and rules use that this check accepts even where no runtime source
# names them: the per-source backlog gauges, the handler watchdog and the pause gauge.
ALSO_ACCEPTED = {
    "switchyard_source_oldest_age_seconds",
    "switchyard_source_drain_eta_seconds",
    "switchyard_source_in_rate",
    "switchyard_source_out_rate",
    "switchyard_handler_stuck",
    "switchyard_handler_timeouts_total",
    "switchyard_paused",
}
METRIC = re.compile(r"\bswitchyard_[a-z0-9_]*[a-z0-9]")
VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
BUILTIN_VARIABLES = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}

problems = []


def problem(text):
    problems.append(text)
    print("check_monitoring: " + text)


def exported_metrics(source_dir):
    names = set()
    for root, _, files in os.walk(os.path.join(source_dir, "runtime")):
        for name in files:
            if name.endswith((".cc", ".h", ".cpp", ".lua")):
                with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
                    names.update(METRIC.findall(f.read()))
    return names


def check_names(where, text, known):
    for name in sorted(set(METRIC.findall(text))):
        if name not in known:
            problem(f"{where}: metric {name} is not exported by the runtime "
                    "(no runtime/ source names it)")


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def main():
    if len(sys.argv) != 4:
        print(__doc__ or "usage: check_monitoring.py SOURCE_DIR DASHBOARD_JSON RULES_YML")
        return 2
    source_dir, dashboard_path, rules_path = sys.argv[1:]
    known = exported_metrics(source_dir) | ALSO_ACCEPTED

    try:
        with open(dashboard_path, encoding="utf-8") as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        problem(f"{dashboard_path}: not valid JSON: {e}")
        return 1
    for key in ("title", "uid"):
        if not isinstance(dash.get(key), str) or not dash[key]:
            problem(f"{dashboard_path}: no {key}")
    if not isinstance(dash.get("schemaVersion"), int):
        problem(f"{dashboard_path}: schemaVersion is missing or not an integer")

    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    queries = []  # (where, expr)
    for name, v in variables.items():
        q = v.get("query")
        if v.get("type") == "query":
            text = q.get("query") if isinstance(q, dict) else q
            queries.append((f"variable ${name}", text or ""))

    seen_ids = {}
    panels = list(all_panels(dash.get("panels", [])))
    if not any(p.get("type") != "row" for p in panels):
        problem(f"{dashboard_path}: no panels")
    for p in panels:
        where = f"panel {p.get('id')!r} ({p.get('title', '?')})"
        pid = p.get("id")
        if not isinstance(pid, int):
            problem(f"{where}: id is missing or not an integer")
        elif pid in seen_ids:
            problem(f"{where}: id {pid} is also used by panel {seen_ids[pid]!r}")
        else:
            seen_ids[pid] = p.get("title", "?")
        if "gridPos" not in p:
            problem(f"{where}: no gridPos")
        if p.get("type") == "row":
            continue
        targets = p.get("targets") or []
        if not targets:
            problem(f"{where}: no queries")
        for t in targets:
            expr = t.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                problem(f"{where}: target {t.get('refId')} has no expr")
                continue
            queries.append((f"{where} target {t.get('refId')}", expr))

    # Metric names and variables, then PromQL syntax through promtool.
    rules = []
    for i, (where, expr) in enumerate(queries):
        check_names(f"{dashboard_path}: {where}", expr, known)

        def substitute(m):
            name = m.group(1) or m.group(2)
            if name in BUILTIN_VARIABLES:
                return BUILTIN_VARIABLES[name]
            if name not in variables:
                problem(f"{dashboard_path}: {where}: ${name} is not a dashboard variable")
            return ".*"
        promql = VARIABLE.sub(substitute, expr)
        if where.startswith("variable "):
            m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\)\s*", promql, re.S)
            if not m:
                continue
            promql = m.group(1)
        rules.append((where, promql))
    with open(rules_path, encoding="utf-8") as f:
        check_names(rules_path, f.read(), known)

    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write("groups:\n  - name: dashboard\n    rules:\n")
        for i, (_, promql) in enumerate(rules):
            f.write(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(promql)}\n")
        generated = f.name
    try:
        for path, what in ((generated, f"{dashboard_path} queries"), (rules_path, rules_path)):
            r = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
            if r.returncode != 0:
                out = (r.stdout + r.stderr).strip()
                for i, (where, _) in enumerate(rules):
                    out = out.replace(f"dashboard:query_{i}", where)
                problem(f"{what}: promtool check rules failed:\n{out}")
    finally:
        os.unlink(generated)

    if not problems:
        print(f"check_monitoring: {dashboard_path}: {len(seen_ids)} panels, "
              f"{len(rules)} queries; {rules_path}: OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
