#!/usr/bin/env bash
# Checks the deployment files as far as a machine without a Docker engine can:
#   - docker-compose.yml resolves (docker-compose config), with every profile;
#   - the Grafana dashboard is valid JSON, uses the provisioned data source,
#     and every panel query parses as PromQL (promtool, when installed);
#   - prometheus.yml passes promtool check config (when installed);
#   - the Grafana provisioning files are valid YAML (when PyYAML is there).
# A missing optional tool is reported and skipped; set ZHIKU_REQUIRE_TOOLS=1
# to make a missing docker-compose or promtool a failure instead.
# Exit status: 0 when every check that ran passed.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
require="${ZHIKU_REQUIRE_TOOLS:-0}"
failed=0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

ok()   { echo "ok    $*"; }
bad()  { echo "FAIL  $*"; failed=1; }
skip() {
  if [ "$require" = 1 ]; then bad "$* (tool missing and ZHIKU_REQUIRE_TOOLS=1)"; else echo "skip  $*"; fi
}

# 1. compose
if command -v docker-compose >/dev/null 2>&1; then
  for profile in "" gpu cpu-chat; do
    args=(-f "$here/docker-compose.yml")
    [ -n "$profile" ] && args+=(--profile "$profile")
    if docker-compose "${args[@]}" config -q >"$tmp/compose.out" 2>&1; then
      ok "docker-compose config (profile: ${profile:-default})"
    else
      cat "$tmp/compose.out"; bad "docker-compose config (profile: ${profile:-default})"
    fi
  done
else
  skip "docker-compose config: docker-compose not installed"
fi

# 2. dashboard JSON (python3 is required for this one)
dashboard="$here/grafana/dashboards/zhiku.json"
if python3 -m json.tool "$dashboard" >/dev/null; then
  ok "dashboard is valid JSON"
else
  bad "dashboard is not valid JSON: $dashboard"
fi

# 3. dashboard queries and data source; writes the queries as a rules file for promtool
if python3 - "$dashboard" "$here/grafana/provisioning/datasources/prometheus.yml" "$tmp/rules.yml" <<'PY'
import json, re, sys
dashboard_path, datasource_path, rules_path = sys.argv[1:4]
with open(dashboard_path, encoding="utf-8") as f:
    dash = json.load(f)
with open(datasource_path, encoding="utf-8") as f:
    uid = re.search(r"^\s*uid:\s*(\S+)\s*$", f.read(), re.M).group(1)
problems, exprs = [], []
for panel in dash["panels"]:
    if panel["type"] == "row":
        continue
    if panel.get("datasource", {}).get("uid") != uid:
        problems.append(f"panel '{panel['title']}' does not use data source uid {uid}")
    if not panel.get("targets"):
        problems.append(f"panel '{panel['title']}' has no query")
    for t in panel.get("targets", []):
        if not t.get("expr", "").strip():
            problems.append(f"panel '{panel['title']}' has an empty query")
        exprs.append(t["expr"])
if not any("zhiku_" in e for e in exprs):
    problems.append("no query refers to a zhiku_ metric")
with open(rules_path, "w", encoding="utf-8") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        e = e.replace("$__rate_interval", "1m").replace("$model", ".*")
        out.write(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(e)}\n")
for p in problems:
    print(p)
print(f"{len(exprs)} queries")
sys.exit(1 if problems else 0)
PY
then
  ok "dashboard panels all query the provisioned data source"
else
  bad "dashboard panels"
fi

# 4. promtool: prometheus.yml and PromQL syntax of every dashboard query
if command -v promtool >/dev/null 2>&1; then
  if promtool check config --syntax-only "$here/prometheus/prometheus.yml" >"$tmp/p.out" 2>&1 \
     || promtool check config "$here/prometheus/prometheus.yml" >"$tmp/p.out" 2>&1; then
    ok "promtool check config prometheus.yml"
  else
    cat "$tmp/p.out"; bad "promtool check config prometheus.yml"
  fi
  if [ -s "$tmp/rules.yml" ] && promtool check rules "$tmp/rules.yml" >"$tmp/r.out" 2>&1; then
    ok "every dashboard query parses as PromQL"
  else
    cat "$tmp/r.out" 2>/dev/null || true; bad "dashboard PromQL"
  fi
else
  skip "promtool checks: promtool not installed"
fi

# 5. YAML of the Grafana provisioning files
if python3 -c 'import yaml' 2>/dev/null; then
  if python3 - "$here"/grafana/provisioning/*/*.yml <<'PY'
import sys, yaml
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    assert doc.get("apiVersion") == 1, f"{path}: apiVersion must be 1"
    assert doc.get("datasources") or doc.get("providers"), f"{path}: no datasources or providers"
PY
  then ok "grafana provisioning YAML"; else bad "grafana provisioning YAML"; fi
else
  skip "grafana provisioning YAML: PyYAML not installed"
fi

exit "$failed"
