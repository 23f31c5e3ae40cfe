"""The deployment files stay consistent with the services: every service has a Deployment and a
Service on its default port with health probes, and the compose file runs each of them."""
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
PORTS = {"identity": 7001, "compute": 7002, "storage": 7003, "database": 7004, "gateway": 8080}


@pytest.mark.parametrize("name,port", PORTS.items())
def test_kubernetes_manifest(name, port):
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / f"{name}.yaml").read_text()))
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {"Deployment", "Service"}
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][0] == f"/usr/local/bin/nimbus-{name}"
    assert f"0.0.0.0:{port}" in container["command"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
    assert kinds["Service"]["spec"]["ports"][0]["port"] == port
    # No secret literal in a manifest: secrets come from Secret objects.
    for env in container["env"]:
        if "KEY" in env["name"] or env["name"] == "DATABASE_URL":
            assert "valueFrom" in env


def test_compose_runs_every_service():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    for name, port in PORTS.items():
        assert name in services
        assert f"0.0.0.0:{port}" in services[name]["entrypoint"]
