"""The Grafana dashboard (integrations/grafana/latentscale.json): it is a
Grafana 10+ dashboard, every PromQL expression in it parses (promtool check
rules), and every metric it names is exported by the real daemon."""
import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

DASHBOARD = ROOT / "integrations" / "grafana" / "latentscale.json"

# Metrics the dashboard may use before the daemon exports them, each with the
# issue that adds it. The test skips only these, and says so.
NOT_YET_EXPORTED_OK = {
    "scaled_bucket_normalized_std": "per-tag buckets (DESIGN §7, 'Tags are buckets')",
}

# What Grafana substitutes before a query reaches Prometheus: the template
# variables at their defaults and Grafana's own interval variables.
GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "6h"}

PROMQL_WORDS = {
    # functions
    "abs", "absent", "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "delta",
    "deriv", "floor", "histogram_quantile", "idelta", "increase", "irate", "label_replace", "ln", "log2",
    "log10", "max_over_time", "min_over_time", "rate", "resets", "round", "scalar", "sort", "sort_desc",
    "sqrt", "time", "timestamp", "vector", "last_over_time", "sum_over_time", "count_over_time",
    # aggregations and keywords
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset", "inf", "nan",
}


def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def all_panels(dashboard: dict):
    for p in dashboard["panels"]:
        yield p
        yield from p.get("panels", [])  # collapsed rows hold their panels


def variable_defaults(dashboard: dict) -> dict:
    values = dict(GRAFANA_BUILTINS)
    for v in dashboard["templating"]["list"]:
        current = v.get("current", {}).get("value")
        if v["type"] in ("textbox", "constant", "custom"):
            values[v["name"]] = current if current is not None else v["query"]
        elif v["name"] == "stream":
            values["stream"] = "sd15"
        elif v["type"] == "datasource":
            values[v["name"]] = "prometheus"
    return values


def substitute(expr: str, values: dict) -> str:
    def repl(m):
        name = m.group(1) or m.group(2)
        if name not in values:
            raise AssertionError(f"unknown dashboard variable ${name} in {expr!r}")
        return str(values[name])
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", repl, expr)


def expressions(dashboard: dict) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    values = variable_defaults(dashboard)
    found = []
    for p in all_panels(dashboard):
        for t in p.get("targets", []):
            if "expr" in t:
                found.append((f"panel {p['title']!r} target {t.get('refId')}", substitute(t["expr"], values)))
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", q.strip())
            assert m, f"variable {v['name']}: expected label_values(METRIC, LABEL), got {q!r}"
            # label_values is Grafana's, not PromQL: its series selector is.
            found.append((f"variable {v['name']}", substitute(m.group(1), values)))
    return found


def metric_names(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that are metric names: not inside
    {…} matchers, strings or by/without/on/ignoring label lists, not
    functions or keywords, not durations."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", "[]", text)
    names = set()
    for tok in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        if tok.lower() in PROMQL_WORDS or re.fullmatch(r"\d+[smhdwy]", tok):
            continue
        names.add(tok)
    return names


def exported_names(exposition: str) -> set[str]:
    names = set()
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return names


def test_dashboard_is_grafana10_with_the_panels_the_issue_lists():
    d = load_dashboard()
    assert d["schemaVersion"] >= 38                     # Grafana 10.0 writes 38
    assert d["uid"] and d["title"]
    names = [v["name"] for v in d["templating"]["list"]]
    assert "stream" in names and "datasource" in names
    stream = next(v for v in d["templating"]["list"] if v["name"] == "stream")
    assert "label_values(scaled_" in json.dumps(stream["query"])
    ids = [p["id"] for p in all_panels(d)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    by_expr = {p["title"]: " ".join(t.get("expr", "") for t in p.get("targets", [])) for p in all_panels(d)}
    def panel_using(fragment):
        hits = [t for t, e in by_expr.items() if fragment in e]
        assert hits, f"no panel queries {fragment}"
        return hits[0]
    band = panel_using("scaled_normalized_std")
    assert "$target_std * (1 + $drift_tolerance)" in by_expr[band] and "$target_std * (1 - $drift_tolerance)" in by_expr[band]
    assert "$clamp_max_fraction" in by_expr[panel_using("scaled_clamp_fraction")]
    panel_using("scaled_scaling_factor_estimate")
    assert "rate(scaled_batches_total" in by_expr[panel_using("scaled_batches_total")]
    heat = next(p for p in all_panels(d) if p["type"] == "heatmap")
    assert "scaled_push_duration_seconds_bucket" in heat["targets"][0]["expr"]
    assert heat["targets"][0]["format"] == "heatmap" and heat["options"]["calculate"] is False
    panel_using("scaled_nonfinite_total")
    panel_using("scaled_alert_firing")
    panel_using("scaled_bucket_normalized_std")
    # Every panel queries the chosen data source, never a hard-coded one.
    for p in all_panels(d):
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}", p["title"]
            assert p.get("description"), f"panel {p['title']!r} has no description"


def test_every_promql_expression_parses(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: install Debian's `prometheus` package (scripts/setup does)")
    exprs = expressions(load_dashboard())
    assert len(exprs) >= 10
    lines = ["groups:", "  - name: grafana_dashboard_expressions", "    rules:"]
    for i, (where, expr) in enumerate(exprs):
        lines.append(f"      # {where}")
        lines.append(f"      - record: dashboard:expr_{i}")
        lines.append(f"        expr: {json.dumps(expr)}")
    rules = tmp_path / "dashboard_rules.yml"
    rules.write_text("\n".join(lines) + "\n")
    out = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr + "\n" + rules.read_text()
    assert f"SUCCESS: {len(exprs)} rules found" in out.stdout + out.stderr


def daemon_exposition(daemon) -> set[str]:
    """Metric names in /metrics after a push with a tag and a NaN, so that
    every per-stream, per-kind and per-bucket series exists."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 4, 8, 8)).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    assert daemon.push_raw("sd15", x, query="step=1&tag=512x512")[0] == 200
    return exported_names(daemon.get("/metrics").decode())


def dashboard_metric_names() -> set[str]:
    used = set()
    for _, expr in expressions(load_dashboard()):
        used |= metric_names(expr)
    return used


def test_every_metric_name_is_exported_by_the_daemon(daemon):
    exported = daemon_exposition(daemon)
    used = dashboard_metric_names()
    assert {"scaled_normalized_std", "scaled_push_duration_seconds_bucket", "scaled_alert_firing"} <= used
    assert set(NOT_YET_EXPORTED_OK) <= used, "NOT_YET_EXPORTED_OK lists a metric the dashboard does not use"
    missing = sorted(used - exported - set(NOT_YET_EXPORTED_OK))
    assert not missing, f"dashboard uses metrics scaled does not export: {missing}\nexported: {sorted(exported)}"


@pytest.mark.parametrize("metric", sorted(NOT_YET_EXPORTED_OK))
def test_metric_still_to_come(daemon, metric):
    """The one allowed exception, checked on its own: passes once scaled
    exports it, and is skipped, by name and with the work that adds it, until then."""
    if metric in daemon_exposition(daemon):
        return
    message = f"{metric} is not exported by this scaled yet ({NOT_YET_EXPORTED_OK[metric]}); its dashboard panel stays empty"
    warnings.warn(message)
    pytest.skip(message)


def test_metric_name_extraction():
    assert metric_names('sum by (le) (increase(scaled_push_duration_seconds_bucket[1m]))') == {"scaled_push_duration_seconds_bucket"}
    assert metric_names('time() - max by (stream) (scaled_last_push_timestamp_seconds{stream=~"a|b"} > 0)') == {"scaled_last_push_timestamp_seconds"}
    assert metric_names("vector(1.0 * (1 + 0.05))") == set()
