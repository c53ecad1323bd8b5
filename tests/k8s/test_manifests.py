"""k8s/: schema-valid for Kubernetes 1.29 and the newest schemas we have (strict: unknown fields are
errors), and consistent in what schemas cannot check."""

from __future__ import annotations

import tomllib

import kubernetes_validate
import pytest
import yaml

from contract.config import parse_config
from tests.support.paths import REPO_ROOT

K8S = REPO_ROOT / "k8s"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")  # kustomize: test_kustomize
VERSIONS = ("1.29.0", "1.37.0")  # native sidecars are GA-shaped from 1.29


def documents() -> list[dict]:
    docs = []
    for path in MANIFESTS:
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def one(kind: str) -> dict:
    found = [doc for doc in documents() if doc["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


def pod_spec() -> dict:
    return one("Deployment")["spec"]["template"]["spec"]


def pod_labels() -> dict:
    return one("Deployment")["spec"]["template"]["metadata"]["labels"]


def selects_the_pods(match_labels: dict) -> bool:
    return bool(match_labels) and all(pod_labels().get(key) == value for key, value in match_labels.items())


def webui_config():
    return parse_config(tomllib.loads(one("ConfigMap")["data"]["webui-host.toml"]))


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_and_strict(version):
    assert MANIFESTS
    for doc in documents():
        kubernetes_validate.validate(doc, version, strict=True)


def test_strict_validation_catches_a_typo():
    deployment = one("Deployment")
    deployment["spec"]["template"]["spec"]["initContainers"][0]["restartPolcy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[0], strict=True)


def test_selectors_match_the_pod_labels():
    deployment = one("Deployment")
    assert selects_the_pods(deployment["spec"]["selector"]["matchLabels"])
    assert selects_the_pods(one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"])
    assert selects_the_pods(one("NetworkPolicy")["spec"]["podSelector"]["matchLabels"])
    spread = pod_spec()["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]
    assert selects_the_pods(spread)
    public = [doc for doc in documents() if doc["kind"] == "Service" and "selector" in doc["spec"]]
    assert [service["metadata"]["name"] for service in public] == ["webui-host"]
    assert selects_the_pods(public[0]["spec"]["selector"])
    target = one("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])


def test_signers_and_daemon_are_native_sidecars_and_the_front_door_is_the_main_container():
    spec = pod_spec()
    sidecars = {c["name"]: c for c in spec["initContainers"]}
    assert set(sidecars) == {"session-daemon", "signer-0", "signer-1"}
    assert all(c["restartPolicy"] == "Always" for c in sidecars.values())
    assert [c["name"] for c in spec["containers"]] == ["frontdoor"]
    state_mounts = {
        c["name"]: {m["name"] for m in c["volumeMounts"]} for c in [*spec["initContainers"], *spec["containers"]]
    }
    assert all("state" in mounts for mounts in state_mounts.values())  # the shared ipc + metrics emptyDir
    assert "emptyDir" in {v["name"]: v for v in spec["volumes"]}["state"]
    indexes = sorted(
        c["command"][c["command"].index("--index") + 1] for n, c in sidecars.items() if n.startswith("signer")
    )
    assert indexes == ["0", "1"]  # distinct agent ids and metric files


def test_volumes_and_secret_items_are_declared_and_the_front_door_gets_no_at_rest_key():
    spec = pod_spec()
    volumes = {v["name"]: v for v in spec["volumes"]}
    keys = set(one("Secret")["stringData"])
    for container in [*spec["initContainers"], *spec["containers"]]:
        for mount in container["volumeMounts"]:
            assert mount["name"] in volumes, (container["name"], mount["name"])
    for volume in volumes.values():
        if "secret" in volume:
            assert volume["secret"]["secretName"] == one("Secret")["metadata"]["name"]
            assert {item["key"] for item in volume["secret"]["items"]} <= keys
        if "configMap" in volume:
            assert volume["configMap"]["name"] == one("ConfigMap")["metadata"]["name"]
    frontdoor = spec["containers"][0]
    mounted = {m["name"] for m in frontdoor["volumeMounts"]}
    front_keys = {
        item["key"] for name in mounted if "secret" in volumes[name] for item in volumes[name]["secret"]["items"]
    }
    assert front_keys == {"zmq.key", "redis-frontdoor.password", "identity-jwks.json"}  # public keys only


def test_probes_hit_the_ops_listener_of_the_configuration():
    config = webui_config()
    frontdoor = pod_spec()["containers"][0]
    ports = {port["name"]: port["containerPort"] for port in frontdoor["ports"]}
    assert ports == {"http": config.service.port, "ops": config.ops.port}
    assert frontdoor["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ops"}
    assert frontdoor["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "ops"}
    annotations = one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(config.ops.port)
    public = next(doc for doc in documents() if doc["kind"] == "Service" and doc["metadata"]["name"] == "webui-host")
    assert public["spec"]["ports"][0]["targetPort"] == "http"
    policy_ports = {p["port"] for rule in one("NetworkPolicy")["spec"]["ingress"] for p in rule["ports"]}
    assert policy_ports == {config.service.port, config.ops.port}


def test_grace_period_covers_the_drain_and_the_config_is_valid():
    config = webui_config()
    assert config.service.ip == "0.0.0.0" and config.ops.ip == "0.0.0.0"  # reachable from the kubelet
    assert str(config.runtime.state_dir) == "/var/lib/webui-host"
    grace = pod_spec()["terminationGracePeriodSeconds"]
    assert grace >= config.ops.unready_delay + config.ops.drain_timeout + 5
    mounts = {m["mountPath"] for m in pod_spec()["containers"][0]["volumeMounts"]}
    assert str(config.runtime.state_dir) in mounts and str(config.secrets_dir) in mounts
