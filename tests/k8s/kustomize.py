"""A renderer for the subset of kustomize that k8s/ uses, so the tests check what `kubectl apply -k`
applies without a kustomize binary (none is installable here: not in Debian, not on PyPI).

Supported: ``resources`` (files and directories with their own kustomization), ``images``
(name/newName/newTag on pod templates), ``namespace`` and JSON 6902 ``patches`` with an inline patch and
a kind/name target (add, replace, remove).  Any other key is an error, so k8s/ cannot start using a
feature these tests would silently ignore.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

KNOWN_KEYS = {"apiVersion", "kind", "resources", "images", "namespace", "patches"}


def render(directory: Path) -> list[dict]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KNOWN_KEYS
    if unknown:
        raise ValueError(f"{directory}: kustomize keys this renderer does not know: {sorted(unknown)}")
    docs: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            docs += render(path)
        else:
            docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    docs = copy.deepcopy(docs)
    for image in kustomization.get("images", []):
        for doc in docs:
            for container in _containers(doc):
                _retag(container, image)
    for patch in kustomization.get("patches", []):
        target = patch["target"]
        matched = [d for d in docs if d["kind"] == target["kind"] and d["metadata"]["name"] == target["name"]]
        if not matched:
            raise ValueError(f"{directory}: patch target {target} matches nothing")
        for doc in matched:
            for op in yaml.safe_load(patch["patch"]):
                _apply(doc, op)
    if "namespace" in kustomization:
        for doc in docs:
            doc["metadata"]["namespace"] = kustomization["namespace"]
    return docs


def _containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def _retag(container: dict, image: dict) -> None:
    name, _, tag = container["image"].partition(":")
    if name != image["name"]:
        return
    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"


def _apply(doc: dict, op: dict) -> None:
    *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in op["path"].lstrip("/").split("/")]
    node = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key = int(last) if isinstance(node, list) and last != "-" else last
    if op["op"] in ("add", "replace"):
        if op["op"] == "replace" and (key not in node if isinstance(node, dict) else key >= len(node)):
            raise KeyError(f"replace of a missing {op['path']}")
        if isinstance(node, list) and op["op"] == "add":
            node.append(op["value"]) if key == "-" else node.insert(key, op["value"])
        else:
            node[key] = op["value"]
    elif op["op"] == "remove":
        del node[key]
    else:
        raise ValueError(f"patch op {op['op']} not supported")
