"""The monitoring overlay: a PodMonitor that scrapes the pod's ops port, and PrometheusRule alerts that
promtool accepts (check rules) and that fire on the series they are about (test rules)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.k8s.kustomize import render
from tests.support.paths import REPO_ROOT

MONITORING = REPO_ROOT / "k8s" / "overlays" / "monitoring"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
ALERTS = {
    "WebuiHostHighErrorRate",
    "WebuiHostHighLatencyP95",
    "WebuiHostLoginFailures",
    "WebuiHostNoUpSigner",
    "WebuiHostPodWithoutSigner",
    "WebuiHostRedisUnreachable",
    "WebuiHostManagerUnreachable",
}


def _one(kind: str) -> dict:
    found = [doc for doc in render(MONITORING) if doc["kind"] == kind]
    assert len(found) == 1
    return found[0]


def test_podmonitor_scrapes_the_ops_port_of_the_pods():
    monitor = _one("PodMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    pod = _one("Deployment")["spec"]["template"]
    assert all(pod["metadata"]["labels"].get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    ports = {p["name"]: p for c in pod["spec"]["containers"] for p in c.get("ports", [])}
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] in ports and endpoint["path"] == "/metrics"
    assert any(r["targetLabel"] == "service_group" for r in endpoint["relabelings"])  # what the alerts group by


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    rule = _one("PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    return path


def test_every_alert_of_the_issue_is_there(rules_file):
    groups = yaml.safe_load(rules_file.read_text())["groups"]
    assert {r["alert"] for g in groups for r in g["rules"]} == ALERTS


def test_promtool_check_rules(rules_file):
    done = subprocess.run([PROMTOOL, "check", "rules", str(rules_file)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_test_rules(rules_file):
    # promtool compares annotations too; the test file checks which alerts fire with which labels, so
    # the annotations (prose for people) are left out of the rules it evaluates.
    groups = yaml.safe_load(rules_file.read_text())["groups"]
    for group in groups:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    rules_file.write_text(yaml.safe_dump({"groups": groups}))
    shutil.copy(REPO_ROOT / "tests" / "k8s" / "alerts_test.yaml", rules_file.parent / "alerts_test.yaml")
    done = subprocess.run(
        [PROMTOOL, "test", "rules", "alerts_test.yaml"], capture_output=True, text=True, cwd=rules_file.parent
    )
    assert done.returncode == 0, done.stdout + done.stderr
