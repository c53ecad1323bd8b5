"""Reading the committed Grafana dashboard and the seed's PromQL examples (shared by two test modules)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from tests.support.paths import REPO_ROOT

DASHBOARD = REPO_ROOT / "docs" / "grafana" / "webui-host.json"
BUILDER = REPO_ROOT / "docs" / "grafana" / "build_dashboard.py"
SEED_QUERIES = Path(__file__).with_name("seed_queries.promql")


def seed_queries() -> list[str]:
    text = "\n".join(line for line in SEED_QUERIES.read_text().splitlines() if not line.startswith("#"))
    return [" ".join(block.split()) for block in text.split("\n\n") if block.strip()]


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expr) of every query panel."""
    doc = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in doc["panels"] for target in panel.get("targets", [])]


def squeezed(expr: str) -> str:
    """PromQL without whitespace (insignificant outside strings, and none of ours has a space in one)."""
    return "".join(expr.split())


def load_builder():
    spec = importlib.util.spec_from_file_location("build_dashboard", BUILDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
