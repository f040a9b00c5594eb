"""The configs in `clusters/` are what Ray and KubeRay accept: the launcher YAML against the schema
the installed Ray ships, every Serve config against Ray Serve's own `ServeDeploySchema`, and the
KubeRay manifests' structure (head, worker group, Secrets, the Serve config embedded), with the
copies kept in step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray.autoscaler
import yaml
from ray.serve.schema import ServeDeploySchema

pytestmark = pytest.mark.unit

CLUSTERS = Path(__file__).parents[2] / "clusters"
SECRET_ENV = {"AEGIS_DATABASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "RAY_AUTH_TOKEN"}


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((CLUSTERS / name).read_text())
    assert isinstance(data, dict)
    return data


def test_the_launcher_config_validates_against_the_schema_ray_ships() -> None:
    config = load("launcher/aegis.yaml")
    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(config, schema)
    assert config["head_node_type"] in config["available_node_types"]
    workers = [t for name, t in config["available_node_types"].items() if name != config["head_node_type"]]
    assert workers and all(t.get("min_workers", 0) >= 1 for t in workers), "a worker group that starts with the cluster"
    assert sum(t.get("min_workers", 0) for t in workers) <= config["max_workers"]


def test_a_launcher_config_that_breaks_the_schema_is_caught() -> None:
    config = load("launcher/aegis.yaml")
    config["available_node_types"]["aegis.head"]["resources"] = {"CPU": "none"}
    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, schema)


def serve_configs() -> dict[str, dict[str, Any]]:
    embedded = yaml.safe_load(load("kuberay/rayservice.yaml")["spec"]["serveConfigV2"])
    return {"serve.yaml": load("serve.yaml"), "rayservice serveConfigV2": embedded}


@pytest.mark.parametrize("name", ["serve.yaml", "rayservice serveConfigV2"])
def test_serve_configs_validate_against_ray_serves_schema(name: str) -> None:
    config = ServeDeploySchema.model_validate(serve_configs()[name])
    [app] = config.applications
    assert app.import_path == "serve_app.deployment:app_builder"
    assert config.logging_config is not None and not config.logging_config.enable_access_log


def test_the_rayservice_embeds_the_same_applications_as_serve_yaml() -> None:
    configs = serve_configs()
    assert configs["rayservice serveConfigV2"]["applications"] == configs["serve.yaml"]["applications"]
    assert configs["rayservice serveConfigV2"]["http_options"]["port"] == 8000  # KubeRay's Serve service port


def containers(cluster_spec: dict[str, Any]) -> list[dict[str, Any]]:
    groups = [cluster_spec["headGroupSpec"], *cluster_spec["workerGroupSpecs"]]
    return [c for group in groups for c in group["template"]["spec"]["containers"]]


def test_the_raycluster_has_a_head_a_worker_group_and_secrets_for_every_credential() -> None:
    cluster = load("kuberay/raycluster.yaml")
    assert cluster["apiVersion"] == "ray.io/v1" and cluster["kind"] == "RayCluster"
    spec = cluster["spec"]
    assert spec["rayVersion"].startswith("2.60")
    head = spec["headGroupSpec"]
    assert "rayStartParams" in head and head["template"]["spec"]["containers"]
    [workers] = spec["workerGroupSpecs"]
    assert workers["groupName"] and 1 <= workers["minReplicas"] <= workers["replicas"] <= workers["maxReplicas"]
    images = {c["image"] for c in containers(spec)}
    assert len(images) == 1, "every node runs the same image (same Python, same Aegis)"
    for container in containers(spec):
        env = {e["name"]: e for e in container["env"]}
        assert set(env) >= SECRET_ENV, container["name"]
        for name in SECRET_ENV:
            assert "value" not in env[name] and env[name]["valueFrom"]["secretKeyRef"]["name"], name
        assert env["RAY_AUTH_MODE"]["value"] == "token"
    ports = {p["name"]: p["containerPort"] for p in head["template"]["spec"]["containers"][0]["ports"]}
    assert ports["serve"] == 8000 and ports["gcs-server"] == 6379


def test_the_rayservice_runs_on_the_same_cluster_spec() -> None:
    service = load("kuberay/rayservice.yaml")
    assert service["apiVersion"] == "ray.io/v1" and service["kind"] == "RayService"
    assert service["spec"]["rayClusterConfig"] == load("kuberay/raycluster.yaml")["spec"]


def test_no_credential_is_written_into_any_config() -> None:
    for path in CLUSTERS.rglob("*.yaml"):
        text = path.read_text()
        for marker in ("sk-", "postgresql://", "postgres://", "AIza"):
            assert marker not in text, f"{path.name} holds what looks like a credential ({marker})"
