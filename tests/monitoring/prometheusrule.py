#!/usr/bin/env python3
"""configs/monitoring/rules.yaml as the PrometheusRule of the Kubernetes monitoring overlay.

  python3 tests/monitoring/prometheusrule.py --write   # regenerate the overlay's copy
  python3 tests/monitoring/prometheusrule.py --check   # exit 1 when the copy differs

The copy is rules.yaml's text from its `groups:` line on, indented under `spec:`, so its
comments and block scalars stay as written. scripts/monitoring-check.sh runs --check, and
tests/deploy/manifests_test.cpp compares the rendered overlay's groups with rules.yaml.
"""

import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "configs" / "monitoring" / "rules.yaml"
OUT = ROOT / "configs" / "kubernetes" / "overlays" / "monitoring" / "prometheusrule.yaml"

HEADER = """\
# GENERATED from configs/monitoring/rules.yaml by tests/monitoring/prometheusrule.py: do not
# edit. Edit rules.yaml, then run `python3 tests/monitoring/prometheusrule.py --write`.
# The Prometheus Operator loads it when its ruleSelector matches these labels; add the label
# yours selects on (kube-prometheus-stack: `release: <its release name>`) in your overlay.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: ditto-gateway
  labels:
    app.kubernetes.io/name: ditto-gateway
spec:
"""


def render():
    lines = RULES.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("groups:"))
    body = [("  " + line) if line.strip() else "" for line in lines[start:]]
    return HEADER + "\n".join(body) + "\n"


def main():
    mode = sys.argv[1] if len(sys.argv) == 2 else ""
    if mode not in ("--write", "--check"):
        print(__doc__, file=sys.stderr)
        return 2
    text = render()
    if mode == "--write":
        OUT.write_text(text)
        print(f"prometheusrule: wrote {OUT.relative_to(ROOT)}", file=sys.stderr)
        return 0
    current = OUT.read_text() if OUT.exists() else ""
    if current == text:
        print(f"prometheusrule: {OUT.relative_to(ROOT)} matches {RULES.relative_to(ROOT)}", file=sys.stderr)
        return 0
    diff = difflib.unified_diff(current.splitlines(), text.splitlines(), str(OUT.relative_to(ROOT)),
                                "generated", lineterm="", n=1)
    print("\n".join(list(diff)[:40]), file=sys.stderr)
    print(f"prometheusrule: {OUT.relative_to(ROOT)} is stale: run python3 {Path(__file__).resolve().relative_to(ROOT)} --write",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
