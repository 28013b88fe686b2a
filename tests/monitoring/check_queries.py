#!/usr/bin/env python3
"""The query half of scripts/monitoring-check.sh: configs/monitoring against a real Prometheus.

  check_queries.py test-rules RULES OUT FOR
      writes RULES to OUT with every alert's `for:` set to FOR (so an alert can fire within the
      run); the expressions, labels and annotations are left as they are, and checked to be.
  check_queries.py queries --prometheus URL --gateway URL... --job JOB [--expect-firing A{l="v"}]...
      [--expect-silent A{l="v"}]...
      the checks below, against a Prometheus that scrapes the gateways and loads the rules.
  check_queries.py redis-down --prometheus URL --gateway URL...
      after Redis was stopped: DittoGatewayRedisUnavailable fires (PENDING while the gateway
      does not export ditto_gateway_proxy_redis_up).

What `queries` asserts (docs/observability.md, "How the dashboard and rules are tested"):
  * the dashboard is well formed: every panel and target uses the `${datasource}` variable,
    ids and refIds are unique, every variable a query names is defined;
  * every metric the rules and the dashboard name is declared by the gateway (a `# TYPE` line
    in /metrics/prometheus), is a recording rule of rules.yaml, or is listed in
    tests/monitoring/pending-metrics.txt; and no listed metric is declared (the list is stale);
  * every rule is evaluated by Prometheus with health "ok";
  * each dashboard variable's label_values() query returns values;
  * each dashboard target, its variables substituted, parses (status "success") and returns at
    least one series;
  * each recording rule's expression returns a series, and so does the series it records;
  * each alert's expression parses, and, with its final comparison against a number removed
    (every alert must end in one), returns a series: the alert is wired to real data, and a
    healthy gateway leaves it empty only because of the threshold;
  * each --expect-firing alert reaches state firing (ALERTS) within the wait, and each
    --expect-silent one is neither pending nor firing.
An expression that returns nothing only because it needs a metric of pending-metrics.txt is
reported PENDING, not failed; so is an expected alert that needs one.
"""

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "configs" / "monitoring" / "rules.yaml"
DASHBOARD = ROOT / "configs" / "monitoring" / "grafana-dashboard.json"
PENDING = ROOT / "tests" / "monitoring" / "pending-metrics.txt"

# Grafana's built-in interval variables, as concrete values for instant queries: the traffic of
# the run is within the last minute, and $__range covers the whole run.
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "10m", "__range_s": "600"}

METRIC_RE = re.compile(r"\bditto_gateway[a-zA-Z0-9_:]*")
# The final comparison of an alert: `<lhs> <op> [bool] <number>` at the very end.
FINAL_CMP_RE = re.compile(
    r"^(?P<lhs>.*\S)\s*(?P<op>==|!=|>=|<=|>|<)\s*(?:bool\s+)?"
    r"(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$",
    re.DOTALL,
)
VAR_RE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
# The characters Grafana escapes in a multi-value variable (a regex alternation in PromQL).
REGEX_META = set("\\^$.|?*+()[]{}'")


class Report:
    def __init__(self):
        self.ok = self.pending = self.failed = 0

    def line(self, status, what, detail=""):
        print(f"{status:7} {what}" + (f": {detail}" if detail else ""), flush=True)

    def passed(self, what, detail=""):
        self.ok += 1
        self.line("ok", what, detail)

    def pend(self, what, detail):
        self.pending += 1
        self.line("PENDING", what, detail)

    def fail(self, what, detail):
        self.failed += 1
        self.line("FAIL", what, detail)


def http_json(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:  # Prometheus answers a bad query 400 with a JSON body
        body = e.read()
        try:
            return json.loads(body)
        except ValueError:
            return {"status": "error", "error": f"HTTP {e.code}: {body[:200]!r}"}


def query(prom, expr):
    """(ok, number of series or None, error text) of an instant query at now."""
    d = http_json(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    if d.get("status") != "success":
        return False, None, f"{d.get('errorType', '')} {d.get('error', d)}".strip()
    res = d["data"]
    if res["resultType"] in ("scalar", "string"):
        return True, 1, ""
    return True, len(res["result"]), ""


def label_values(prom, selector, label):
    params = [("start", str(time.time() - 3600)), ("end", str(time.time()))]
    if selector:
        params.append(("match[]", selector))
    d = http_json(f"{prom}/api/v1/label/{urllib.parse.quote(label)}/values?" + urllib.parse.urlencode(params))
    if d.get("status") != "success":
        raise RuntimeError(f"label values of {label} for {selector}: {d.get('error', d)}")
    return sorted(d["data"])


def load_rules(path):
    return yaml.safe_load(Path(path).read_text())


def pending_list():
    names = []
    for line in PENDING.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.append(line)
    return set(names)


def declared_families(gateways):
    """name -> type, from the `# TYPE` lines of every gateway's /metrics/prometheus."""
    fam = {}
    for g in gateways:
        with urllib.request.urlopen(f"{g}/metrics/prometheus", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("# TYPE "):
                    _, _, name, kind = line.split(" ", 3)
                    fam[name] = kind
    return fam


def family_of(name, families):
    if name in families:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and families.get(base) == "histogram":
            return base
    return None


def metrics_in(expr, recorded):
    """Every metric an expression needs, recording rules expanded into what they read."""
    out, todo, seen = set(), list(METRIC_RE.findall(expr)), set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        if m in recorded:
            todo.extend(METRIC_RE.findall(recorded[m]))
        else:
            out.add(m)
    return out


def all_rules(doc):
    for g in doc["groups"]:
        for r in g["rules"]:
            yield g["name"], r


def rule_name(r):
    return r.get("record") or r.get("alert")


# ---- test-rules -------------------------------------------------------------------------------


def cmd_test_rules(args):
    doc = load_rules(args.rules)
    copy = load_rules(args.rules)
    for _, r in all_rules(copy):
        if "alert" in r:
            r["for"] = args.for_
    # Only `for:` differs: the server evaluates exactly the expressions of the file.
    for (_, a), (_, b) in zip(all_rules(doc), all_rules(copy)):
        assert {k: v for k, v in a.items() if k != "for"} == {k: v for k, v in b.items() if k != "for"}
    Path(args.out).write_text(yaml.safe_dump(copy, sort_keys=False))
    return 0


# ---- the dashboard ----------------------------------------------------------------------------


def panels_of(dash):
    for p in dash["panels"]:
        yield p
        yield from p.get("panels", [])  # a collapsed row keeps its panels inside


def check_dashboard_shape(dash, rep):
    ds_vars = [v for v in dash["templating"]["list"] if v["type"] == "datasource"]
    if len(ds_vars) != 1 or ds_vars[0]["name"] != "datasource" or ds_vars[0]["query"] != "prometheus":
        rep.fail("dashboard", "needs exactly one datasource variable `datasource` of type prometheus")
    if not dash.get("uid") or not dash.get("title"):
        rep.fail("dashboard", "needs a uid and a title")
    ids, problems = set(), []
    for p in panels_of(dash):
        if p["id"] in ids:
            problems.append(f"panel id {p['id']} used twice")
        ids.add(p["id"])
        gp = p.get("gridPos", {})
        if not gp or gp["x"] + gp["w"] > 24:
            problems.append(f"panel {p['title']!r}: gridPos {gp}")
        if p["type"] == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"panel {p['title']!r}: datasource is not ${{datasource}}")
        targets = p.get("targets", [])
        if not targets:
            problems.append(f"panel {p['title']!r}: no targets")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or None in refs:
            problems.append(f"panel {p['title']!r}: refIds {refs}")
        for t in targets:
            if t.get("datasource", {}).get("uid", "${datasource}") != "${datasource}":
                problems.append(f"panel {p['title']!r} {t['refId']}: datasource is not ${{datasource}}")
            if not t.get("expr"):
                problems.append(f"panel {p['title']!r} {t['refId']}: no expr")
    for pr in problems:
        rep.fail("dashboard", pr)
    if not problems:
        rep.passed("dashboard shape", f"{len(ids)} panels, every one on ${{datasource}}")


def substitute(expr, values):
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in values:
            raise KeyError(name)
        return values[name]

    return VAR_RE.sub(repl, expr)


def regex_escape(v):
    return "".join("\\\\" + c if c in REGEX_META else c for c in v)


def resolve_variables(dash, prom, job, rep):
    """Concrete values for the dashboard's variables, as Grafana would put them in a query: the
    built-in intervals, the job, and every value of a multi-value variable, i.e. `(a|b|c)`."""
    values = dict(BUILTINS)
    for v in dash["templating"]["list"]:
        if v["type"] == "datasource":
            continue
        if v["type"] != "query":
            rep.fail(f"variable ${v['name']}", f"type {v['type']} is not handled by this check")
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"\s*label_values\((?:(.*),)?\s*(\w+)\s*\)\s*", q, re.DOTALL)
        if not m:
            rep.fail(f"variable ${v['name']}", f"not a label_values() query: {q}")
            continue
        selector = substitute(m.group(1) or "", values).strip()
        try:
            vals = label_values(prom, selector, m.group(2))
        except RuntimeError as e:
            rep.fail(f"variable ${v['name']}", str(e))
            continue
        if not vals:
            rep.fail(f"variable ${v['name']}", f"{q} returned no values")
            continue
        if v["name"] == "job":
            if job not in vals:
                rep.fail("variable $job", f"{job} not among {vals}")
            values["job"] = job
        elif v.get("multi"):
            values[v["name"]] = "(" + "|".join(regex_escape(x) for x in vals) + ")"
        else:
            values[v["name"]] = vals[0]
        rep.passed(f"variable ${v['name']}", f"{len(vals)} values: {', '.join(vals)[:120]}")
    return values


# ---- queries ----------------------------------------------------------------------------------


def check_expr(prom, what, expr, needs, pending_absent, rep):
    ok, n, err = query(prom, expr)
    if not ok:
        rep.fail(what, f"does not parse or evaluate: {err}\n        {expr}")
    elif n:
        rep.passed(what, f"{n} series")
    elif needs & pending_absent:
        rep.pend(what, "no series; needs " + ", ".join(sorted(needs & pending_absent)))
    else:
        rep.fail(what, f"no series\n        {expr}")


def wait_rules_evaluated(prom, doc, rep, deadline):
    names = {rule_name(r) for _, r in all_rules(doc)}
    while True:
        d = http_json(f"{prom}/api/v1/rules")
        seen = {}
        for g in d.get("data", {}).get("groups", []):
            for r in g["rules"]:
                seen[r["name"]] = r
        evaluated = [n for n in names if n in seen and not seen[n].get("lastEvaluation", "").startswith("0001")]
        if len(evaluated) == len(names) or time.time() > deadline:
            break
        time.sleep(0.5)
    bad = 0
    for n in sorted(names):
        r = seen.get(n)
        if r is None:
            rep.fail(f"rule {n}", "not loaded by Prometheus")
            bad += 1
        elif r.get("health") != "ok":
            rep.fail(f"rule {n}", f"health {r.get('health')}: {r.get('lastError', '')}")
            bad += 1
    if not bad:
        rep.passed("rules loaded and evaluated", f"{len(names)} rules, health ok")


def alert_selector(spec):
    m = re.fullmatch(r"(\w+)(\{.*\})?", spec)
    if not m:
        raise SystemExit(f"bad alert spec {spec!r}: NAME or NAME{{label=\"v\",...}}")
    inner = (m.group(2) or "{}")[1:-1]
    return m.group(1), inner


def alerts_query(name, inner, state=None):
    parts = [f'alertname="{name}"'] + ([f'alertstate="{state}"'] if state else []) + ([inner] if inner else [])
    return "ALERTS{" + ", ".join(parts) + "}"


def check_alerts(prom, doc, recorded, pending_absent, firing, silent, rep, wait_s):
    alert_expr = {r["alert"]: r["expr"] for _, r in all_rules(doc) if "alert" in r}
    todo = []
    for spec in firing:
        name, inner = alert_selector(spec)
        if name not in alert_expr:
            rep.fail(f"alert {spec}", "no such alert in rules.yaml")
            continue
        needs = metrics_in(alert_expr[name], recorded) & pending_absent
        if needs:
            # Needs a metric the gateway does not have yet: nothing to wait for.
            ok, n, _ = query(prom, alerts_query(name, inner, "firing"))
            if ok and n:
                rep.passed(f"alert {spec} fires", f"{n} series")
            else:
                rep.pend(f"alert {spec} fires", "needs " + ", ".join(sorted(needs)))
            continue
        todo.append((spec, name, inner))
    deadline = time.time() + wait_s
    while todo:
        left = []
        for spec, name, inner in todo:
            ok, n, err = query(prom, alerts_query(name, inner, "firing"))
            if ok and n:
                rep.passed(f"alert {spec} fires", f"{n} series")
            else:
                left.append((spec, name, inner))
        todo = left
        if not todo:
            break
        if time.time() > deadline:
            for spec, name, inner in todo:
                _, n_any, _ = query(prom, alerts_query(name, inner))
                state = "pending" if n_any else "not active"
                rep.fail(f"alert {spec} fires", f"still {state} after {wait_s} s")
            break
        time.sleep(1)
    for spec in silent:
        name, inner = alert_selector(spec)
        ok, n, err = query(prom, alerts_query(name, inner))
        if not ok:
            rep.fail(f"alert {spec} silent", err)
        elif n:
            rep.fail(f"alert {spec} silent", f"{n} series pending or firing")
        else:
            rep.passed(f"alert {spec} silent")


def cmd_queries(args):
    rep = Report()
    prom = args.prometheus.rstrip("/")
    doc = load_rules(RULES)
    dash = json.loads(DASHBOARD.read_text())
    recorded = {r["record"]: r["expr"] for _, r in all_rules(doc) if "record" in r}
    pending = pending_list()
    families = declared_families(args.gateway)

    # The pending list is kept honest: a metric the gateway now declares must leave it.
    for m in sorted(pending):
        if m in families:
            rep.fail(f"pending metric {m}", "the gateway declares it now: delete its line in "
                     "tests/monitoring/pending-metrics.txt")
    pending_absent = {m for m in pending if m not in families}

    # Every metric named anywhere is real, recorded here, or pending.
    exprs = [r["expr"] for _, r in all_rules(doc)]
    exprs += [t["expr"] for p in panels_of(dash) for t in p.get("targets", []) if t.get("expr")]
    exprs += [(v["query"]["query"] if isinstance(v["query"], dict) else v["query"])
              for v in dash["templating"]["list"] if v["type"] == "query"]
    unknown = set()
    for e in exprs:
        for m in METRIC_RE.findall(e):
            if m not in recorded and m not in pending and not family_of(m, families):
                unknown.add(m)
    for m in sorted(unknown):
        rep.fail(f"metric {m}", "neither exported by the gateway, nor recorded in rules.yaml, nor pending")
    if not unknown:
        rep.passed("metric names", "every name is exported, recorded or pending")

    check_dashboard_shape(dash, rep)
    wait_rules_evaluated(prom, doc, rep, time.time() + 20)

    # Rules.
    for group, r in all_rules(doc):
        needs = metrics_in(r["expr"], recorded)
        if "record" in r:
            check_expr(prom, f"record {r['record']} (expression)", r["expr"], needs, pending_absent, rep)
            check_expr(prom, f"record {r['record']} (stored series)", f'{r["record"]}{{job="{args.job}"}}',
                       needs, pending_absent, rep)
            continue
        ok, _, err = query(prom, r["expr"])
        if not ok:
            rep.fail(f"alert {r['alert']}", f"does not parse or evaluate: {err}")
            continue
        m = FINAL_CMP_RE.match(r["expr"].strip())
        if not m:
            rep.fail(f"alert {r['alert']}", "does not end in `<comparison> <number>`, the form this check needs")
            continue
        check_expr(prom, f"alert {r['alert']} (without `{m.group('op')} {m.group('num')}`)", m.group("lhs"),
                   needs, pending_absent, rep)

    # The dashboard.
    values = resolve_variables(dash, prom, args.job, rep)
    for p in panels_of(dash):
        for t in p.get("targets", []):
            if t.get("hide") or not t.get("expr"):
                continue
            what = f"panel {p['title']!r} {t['refId']}"
            try:
                expr = substitute(t["expr"], values)
            except KeyError as e:
                rep.fail(what, f"unknown variable ${e.args[0]}")
                continue
            check_expr(prom, what, expr, metrics_in(t["expr"], recorded), pending_absent, rep)

    check_alerts(prom, doc, recorded, pending_absent, args.expect_firing, args.expect_silent, rep, args.wait)

    print(f"check_queries: {rep.ok} ok, {rep.pending} pending, {rep.failed} failed", flush=True)
    return 1 if rep.failed else 0


def cmd_redis_down(args):
    rep = Report()
    families = declared_families(args.gateway)
    doc = load_rules(RULES)
    recorded = {r["record"]: r["expr"] for _, r in all_rules(doc) if "record" in r}
    pending_absent = {m for m in pending_list() if m not in families}
    check_alerts(args.prometheus.rstrip("/"), doc, recorded, pending_absent,
                 ["DittoGatewayRedisUnavailable"], [], rep, args.wait)
    print(f"check_queries redis-down: {rep.ok} ok, {rep.pending} pending, {rep.failed} failed", flush=True)
    return 1 if rep.failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("test-rules")
    t.add_argument("rules")
    t.add_argument("out")
    t.add_argument("for_", metavar="FOR")
    for name in ("queries", "redis-down"):
        q = sub.add_parser(name)
        q.add_argument("--prometheus", required=True)
        q.add_argument("--gateway", action="append", required=True)
        q.add_argument("--wait", type=float, default=30, help="seconds to wait for an alert to fire")
        if name == "queries":
            q.add_argument("--job", required=True)
            q.add_argument("--expect-firing", action="append", default=[])
            q.add_argument("--expect-silent", action="append", default=[])
    args = ap.parse_args()
    if args.cmd == "test-rules":
        return cmd_test_rules(args)
    if args.cmd == "queries":
        return cmd_queries(args)
    return cmd_redis_down(args)


if __name__ == "__main__":
    sys.exit(main())
