"""The newcomer's path on a running platform: with the nimbus CLI, then with plain curl on
the REST routes — create a tenant, a user and a key, launch an instance and wait for it, list
it, reach its port, terminate it. And a grpcio client calling compute through the gateway."""
import json
import os
import subprocess
import time
import uuid

import grpc
import pytest
import requests

import suite_support
from conftest import BIN, bearer


@pytest.fixture(scope="module")
def compute_ready(platform):
    assert platform.compute, "the gateway suite runs compute (its fixture fails when it cannot)"


def cli(args, env, check=True, timeout=300):
    result = subprocess.run([str(BIN / "nimbus"), *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"nimbus {' '.join(args)} → {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def reach(port, timeout=30):
    deadline = time.time() + timeout
    while True:
        try:
            response = requests.get(f"http://127.0.0.1:{port}/", timeout=2)
            if response.status_code == 200:
                return response.text
        except requests.RequestException:
            pass
        assert time.time() < deadline, f"port {port} never answered"
        time.sleep(0.3)


def published_port(instance):
    published = instance.get("published") or []
    assert published, instance
    return int(published[0]["hostPort"])


HTTPD = ["--", "httpd", "-f", "-p", "8080", "-h", "/www"]


def test_newcomer_with_the_cli(gateway, platform, compute_ready, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIMBUS_")}
    env["NIMBUS_CONFIG"] = str(tmp_path / "config.json")
    cli(["configure", "--endpoint", gateway.url, "--api-key", platform.admin_key], env)
    assert oct(os.stat(tmp_path / "config.json").st_mode & 0o777) == "0o600"

    slug = f"cli-{uuid.uuid4().hex[:6]}"
    tenant = json.loads(cli(["tenants", "create", "--name", "CLI Tenant", "--slug", slug, "-o", "json"], env).stdout)
    assert tenant["slug"] == slug
    email = f"cli-{uuid.uuid4().hex[:6]}@example.com"
    user_env = {**env, "NIMBUS_NEW_PASSWORD": suite_support.secret("a long cli password")}
    user = json.loads(cli(["users", "create", "--email", email, "--name", "Cli", "--role", "developer", "-o", "json"], user_env).stdout)
    assert user["email"] == email
    key = json.loads(cli(["keys", "create", "--name", "cli", "-o", "json"], env).stdout)
    assert key["secret"].startswith("nmb_")

    # From here on, the new key (and the config holds no other secret: checked after the run).
    cli(["configure", "--api-key", key["secret"]], env)
    suite_support.cli_config(tmp_path / "config.json", key["secret"])
    assert "admin@example.com" in cli(["whoami"], env).stdout

    name = f"web-{uuid.uuid4().hex[:6]}"
    launched = json.loads(cli(["instances", "launch", "--name", name, "--image", "busybox", "--type", "basic-1",
                               "--port", "8080", "--wait", "-o", "json", *HTTPD], env).stdout)
    assert launched["state"] == "INSTANCE_STATE_RUNNING"
    listed = cli(["instances", "list"], env).stdout
    assert name in listed and "RUNNING" in listed
    assert "hello from nimbus" in reach(published_port(launched))

    cli(["instances", "terminate", launched["id"], "--wait"], env)
    gone = cli(["instances", "get", launched["id"], "-o", "json"], env, check=False)
    assert gone.returncode == 2 or json.loads(gone.stdout)["state"] == "INSTANCE_STATE_TERMINATED"

    # Exit codes say what went wrong.
    assert cli(["instances", "get", str(uuid.uuid4())], env, check=False).returncode == 2
    assert cli(["whoami", "--api-key", "nmb_aaaaaaaaaaaa_" + "x" * 43], env, check=False).returncode == 3
    assert cli(["instances", "launch"], env, check=False).returncode == 64
    assert cli(["whoami"], {**env, "NIMBUS_CONFIG": str(tmp_path / "none.json")}, check=False).returncode == 78


def curl(*args):
    result = subprocess.run(["curl", "-sS", "--max-time", "120", "-w", "\n%{http_code}", *args],
                            capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stderr
    body, _, status = result.stdout.rpartition("\n")
    return int(status), (json.loads(body) if body.strip() else None)


def test_newcomer_with_curl(gateway, platform, compute_ready):
    auth = ["-H", f"Authorization: Bearer {platform.admin_key}", "-H", "content-type: application/json"]
    base = gateway.url
    status, tenant = curl(*auth, "-d", json.dumps({"name": "Curl", "slug": f"curl-{uuid.uuid4().hex[:6]}"}), f"{base}/v1/tenants")
    assert status == 200, tenant
    status, user = curl(*auth, "-d", json.dumps({"email": f"curl-{uuid.uuid4().hex[:6]}@example.com", "name": "Curl",
                                                 "password": suite_support.secret("a long curl password"), "role": "viewer"}), f"{base}/v1/users")
    assert status == 200, user
    status, key = curl(*auth, "-d", json.dumps({"name": "curl"}), f"{base}/v1/api-keys")
    assert status == 200, key
    mine = ["-H", f"Authorization: Bearer {key['secret']}", "-H", "content-type: application/json"]

    name = f"curl-{uuid.uuid4().hex[:6]}"
    status, instance = curl(*mine, "-d", json.dumps({
        "name": name, "image": "busybox", "instanceType": "basic-1",
        "command": ["httpd", "-f", "-p", "8080", "-h", "/www"], "ports": [{"containerPort": 8080}],
        "clientToken": str(uuid.uuid4())}), f"{base}/v1/instances")
    assert status == 200, instance
    deadline = time.time() + 120
    while instance["state"] != "INSTANCE_STATE_RUNNING":
        assert instance["state"] in ("INSTANCE_STATE_PENDING", "INSTANCE_STATE_STARTING"), instance
        assert time.time() < deadline, instance
        time.sleep(0.3)
        status, instance = curl(*mine, f"{base}/v1/instances/{instance['id']}")
        assert status == 200, instance
    status, listed = curl(*mine, f"{base}/v1/instances?page_size=50")
    assert status == 200 and name in [i["name"] for i in listed["instances"]]
    assert "hello from nimbus" in reach(published_port(instance))
    status, terminated = curl(*mine, "-X", "DELETE", f"{base}/v1/instances/{instance['id']}")
    assert status == 200, terminated


def test_grpcio_calls_compute_through_the_gateway(gateway, platform, compute_ready, stubs):
    pb, rpc = stubs["compute.compute"]
    with grpc.insecure_channel(gateway.address) as channel:
        types = rpc.InstanceTypesStub(channel).ListInstanceTypes(
            pb.ListInstanceTypesRequest(), metadata=[("authorization", f"Bearer {platform.admin_key}")], timeout=30)
        assert "basic-1" in [t.id for t in types.instance_types]
        instances = rpc.InstancesStub(channel).ListInstances(
            pb.ListInstancesRequest(page_size=50), metadata=[("authorization", f"Bearer {platform.admin_key}")], timeout=30)
        # The same page as REST shows (both through the gateway, from compute).
        rest = requests.get(f"{gateway.url}/v1/instances", params={"page_size": 50}, timeout=30,
                            headers={"Authorization": f"Bearer {platform.admin_key}"})
        assert rest.status_code == 200, rest.text
        assert [(i.id, i.name) for i in instances.instances] == [(i["id"], i["name"]) for i in rest.json().get("instances", [])]
        assert all(i.tenant_id == instances.instances[0].tenant_id for i in instances.instances)
        with pytest.raises(grpc.RpcError) as error:
            rpc.InstancesStub(channel).ListInstances(pb.ListInstancesRequest(), timeout=30)
        assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_cli_permission_error_is_exit_3(gateway, platform, tmp_path):
    """A viewer's key is authenticated but may not create users: PERMISSION_DENIED, exit 3."""
    email, password = f"viewer-{uuid.uuid4().hex[:6]}@example.com", suite_support.secret("a long viewer password")
    created = requests.post(f"{gateway.url}/v1/users", headers=bearer(platform.admin_key), timeout=30,
                            json={"email": email, "name": "Viewer", "password": password, "role": "viewer"})
    assert created.status_code == 200, created.text
    viewer_key = requests.post(f"{gateway.url}/v1/auth/login", json={"email": email, "password": password}, timeout=30).json()["secret"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIMBUS_")}
    env["NIMBUS_CONFIG"] = str(tmp_path / "config.json")
    cli(["configure", "--endpoint", gateway.url, "--api-key", viewer_key], env)
    suite_support.cli_config(tmp_path / "config.json", viewer_key)
    assert email in cli(["whoami"], env).stdout
    denied = cli(["users", "create", "--email", f"x-{uuid.uuid4().hex[:6]}@example.com", "--name", "X", "--role", "viewer"],
                 {**env, "NIMBUS_NEW_PASSWORD": "another long password"}, check=False)
    assert denied.returncode == 3, (denied.returncode, denied.stderr)
    assert "PERMISSION_DENIED" in denied.stderr or "permission" in denied.stderr.lower(), denied.stderr
