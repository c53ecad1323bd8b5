"""k8s/ as a kustomize base with overlays: the base renders exactly today's manifests, every overlay
renders objects that validate strict for Kubernetes 1.29 and the newest schemas, and every image
reference is the image scripts/build-image makes, tagged with the one version of pyproject.toml."""

from __future__ import annotations

import tomllib

import kubernetes_validate
import pytest
import yaml

from tests.k8s.kustomize import render
from tests.support.paths import REPO_ROOT

K8S = REPO_ROOT / "k8s"
OVERLAYS = sorted(path.parent for path in (K8S / "overlays").glob("*/kustomization.yaml"))
VERSIONS = ("1.29.0", "1.37.0")
OPERATOR_KINDS = {"PodMonitor", "PrometheusRule"}  # CRDs: no schema in kubernetes-validate
VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_base_renders_the_manifests_of_k8s():
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    files = sorted(p.name for p in K8S.glob("*.yaml") if p.name not in ("kustomization.yaml", "secret.example.yaml"))
    assert sorted(listed) == files  # a new manifest must join the base
    applied_one_by_one = [doc for name in listed for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]
    assert render(K8S) == applied_one_by_one


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
@pytest.mark.parametrize("version", VERSIONS)
def test_overlays_validate_strict(overlay, version):
    docs = render(overlay)
    assert any(doc["kind"] == "Deployment" for doc in docs)
    for doc in docs:
        if doc["kind"] not in OPERATOR_KINDS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_production_overlay_changes_only_what_it_says():
    base = {(d["kind"], d["metadata"]["name"]): d for d in render(K8S)}
    production = render(K8S / "overlays" / "production")
    assert {d["metadata"].get("namespace") for d in production} == {"backend-ai"}
    hpa = next(d for d in production if d["kind"] == "HorizontalPodAutoscaler")
    assert (
        hpa["spec"]["minReplicas"] == 3 and base[("HorizontalPodAutoscaler", "webui-host")]["spec"]["minReplicas"] != 3
    )
    assert {"PodMonitor", "PrometheusRule"} <= {d["kind"] for d in production}


def _images(docs):
    for doc in docs:
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            yield container["image"]


@pytest.mark.parametrize("overlay", [K8S, *OVERLAYS], ids=lambda p: p.name)
def test_images_carry_the_one_version(overlay):
    images = set(_images(render(overlay)))
    assert images and all(image.endswith(f"/webui-host:{VERSION}") for image in images), images
    raw = set(_images(yaml.safe_load_all((K8S / "deployment.yaml").read_text())))
    assert raw == {f"localhost/webui-host:{VERSION}"}  # kubectl apply -f k8s/ gives the same image


def test_the_renderer_refuses_what_it_does_not_know(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(ValueError, match="commonLabels"):
        render(tmp_path)
