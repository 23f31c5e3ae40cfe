"""The deployment files stay consistent with the services: every service has a Deployment and a
Service on its default port with health probes, and the compose file runs each of them."""
from pathlib import Path

import re

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
PORTS = {"identity": 7001, "compute": 7002, "storage": 7003, "database": 7004, "gateway": 8080}
# Settings that hold a secret: they must come from a Secret object, never a literal.
SECRET_NAME = re.compile(r"KEY|KEK|PASSWORD|SECRET|TOKEN|CREDENTIAL|DATABASE_URL")
# The secrets each service cannot start without (the manifest must wire them).
REQUIRED_SECRETS = {"identity": {"NIMBUS_PRINCIPAL_KEY", "DATABASE_URL"},
                    "compute": {"NIMBUS_PRINCIPAL_KEY", "DATABASE_URL", "NIMBUS_COMPUTE_KEK"},
                    "storage": {"NIMBUS_PRINCIPAL_KEY", "DATABASE_URL"},
                    "database": {"NIMBUS_PRINCIPAL_KEY", "DATABASE_URL"},
                    "gateway": {"NIMBUS_PRINCIPAL_KEY"}}


def is_secret(name):
    return bool(SECRET_NAME.search(name))


def test_the_secret_filter_knows_every_secret_setting():
    for name in ["NIMBUS_COMPUTE_KEK", "NIMBUS_COMPUTE_KEK_PREVIOUS", "NIMBUS_PRINCIPAL_KEY", "NIMBUS_PRINCIPAL_PREVIOUS_KEYS",
                 "DATABASE_URL", "NIMBUS_ROLE_PASSWORD"]:
        assert is_secret(name), name
    assert not is_secret("NIMBUS_LOG_FORMAT")


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
        if is_secret(env["name"]):
            assert "valueFrom" in env and "value" not in env, env
    wired = {env["name"] for env in container["env"] if "valueFrom" in env}
    assert REQUIRED_SECRETS[name] <= wired, f"{name}: missing {REQUIRED_SECRETS[name] - wired}"


def test_compose_runs_every_service():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    for name, port in PORTS.items():
        assert name in services
        assert f"0.0.0.0:{port}" in services[name]["entrypoint"]
