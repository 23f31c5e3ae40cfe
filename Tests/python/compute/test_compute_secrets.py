"""Instance environments are sealed at rest: after a launch over gRPC, neither a pg_dump nor a
SELECT of compute's schema shows the value, the container still gets it, read-only callers see
the names only, and nimbus-compute refuses to start without a usable NIMBUS_COMPUTE_KEK (one
clear line, never the key or a value)."""
import os
import subprocess
import uuid
from pathlib import Path

import grpc

import suite_support

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("NIMBUS_BIN", ROOT / ".build" / "debug"))
PG_DUMP = Path("/usr/lib/postgresql/15/bin/pg_dump")
PSQL = Path("/usr/lib/postgresql/15/bin/psql")


def eventually(check, timeout=20):
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def logs(p, instance_id):
    try:
        chunks = p.instances.StreamInstanceLogs(p.pb.StreamInstanceLogsRequest(id=instance_id), metadata=p.as_tenant(), timeout=30)
        return b"".join(c.data for c in chunks).decode()
    except grpc.RpcError:
        return ""


def compute_schema_dump(dsn):
    dump = subprocess.run([str(PG_DUMP), "--schema=compute", "--no-owner", "-d", dsn], capture_output=True, text=True, timeout=60)
    assert dump.returncode == 0, dump.stderr
    rows = subprocess.run([str(PSQL), "-At", "-d", dsn, "-c",
                           "SELECT string_agg(t::text, E'\\n') FROM compute.instances t"], capture_output=True, text=True, timeout=60)
    assert rows.returncode == 0, rows.stderr
    return dump.stdout, rows.stdout


def test_environment_is_sealed_at_rest_and_reaches_the_container(platform):
    pb, p = platform.pb, platform
    secret = suite_support.secret(f"s3cr3t-{uuid.uuid4().hex}")
    launched = p.instances.LaunchInstance(pb.LaunchInstanceRequest(
        name=f"env-{uuid.uuid4().hex[:6]}", image="busybox", env={"DB_PASSWORD": secret, "MODE": "prod"},
        command=["sh", "-c", 'echo "DB_PASSWORD=$DB_PASSWORD"; exec sleep 600']), metadata=p.as_tenant(), timeout=30)
    try:
        assert dict(launched.env) == {"DB_PASSWORD": secret, "MODE": "prod"}, "the launching caller gets the values back"
        running = p.wait_state(launched.id, [pb.INSTANCE_STATE_RUNNING, pb.INSTANCE_STATE_ERROR])
        assert running.state == pb.INSTANCE_STATE_RUNNING, running.state_reason
        assert eventually(lambda: f"DB_PASSWORD={secret}" in logs(p, launched.id)), "the container sees the plain value"

        dump, rows = compute_schema_dump(p.postgres)
        assert launched.id in rows and "env_sealed" in dump, "the dump covers the instance"
        assert secret not in dump and secret not in rows
        assert "prod" not in rows

        viewer = p.instances.GetInstance(pb.GetInstanceRequest(id=launched.id), metadata=p.as_tenant(permissions=["instance:read"]), timeout=30)
        assert dict(viewer.env) == {"DB_PASSWORD": "<redacted>", "MODE": "<redacted>"}
        listed = p.instances.ListInstances(pb.ListInstancesRequest(name=launched.name), metadata=p.as_tenant(permissions=["instance:read"]), timeout=30)
        assert [dict(i.env) for i in listed.instances] == [{"DB_PASSWORD": "<redacted>", "MODE": "<redacted>"}]
        developer = p.instances.GetInstance(pb.GetInstanceRequest(id=launched.id), metadata=p.as_tenant(), timeout=30)
        assert developer.env["DB_PASSWORD"] == secret
    finally:
        p.instances.TerminateInstance(pb.InstanceActionRequest(id=launched.id), metadata=p.as_tenant(), timeout=30)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_compute(env):
    return subprocess.run([str(BIN / "nimbus-compute"), "serve", "--listen", f"127.0.0.1:{free_port()}"],
                          capture_output=True, text=True, env=env, timeout=60)


def test_missing_or_malformed_key_refuses_to_start(platform):
    env = {k: v for k, v in platform.compute_env.items() if k != "NIMBUS_COMPUTE_KEK"}
    missing = start_compute(env)
    assert missing.returncode == 78, missing.stderr
    assert "NIMBUS_COMPUTE_KEK" in missing.stderr and "not set" in missing.stderr
    malformed = "hunter2-is-not-a-32-byte-key"
    bad = start_compute({**env, "NIMBUS_COMPUTE_KEK": malformed})
    assert bad.returncode == 78, bad.stderr
    assert "NIMBUS_COMPUTE_KEK" in bad.stderr and "32" in bad.stderr
    assert malformed not in bad.stderr + bad.stdout


def test_another_key_refuses_to_start_without_showing_a_value(platform):
    pb, p = platform.pb, platform
    secret = suite_support.secret(f"s3cr3t-{uuid.uuid4().hex}")
    launched = p.instances.LaunchInstance(pb.LaunchInstanceRequest(
        name=f"keyed-{uuid.uuid4().hex[:6]}", image="busybox", env={"API_TOKEN": secret}, command=["sleep", "600"]),
        metadata=p.as_tenant(), timeout=30)
    try:
        other_key = "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktMDE"
        result = start_compute({**p.compute_env, "NIMBUS_COMPUTE_KEK": other_key})
        assert result.returncode == 78, result.stderr
        assert "NIMBUS_COMPUTE_KEK" in result.stderr and "does not open" in result.stderr, result.stderr
        assert secret not in result.stderr + result.stdout
        assert other_key not in result.stderr + result.stdout
    finally:
        p.instances.TerminateInstance(pb.InstanceActionRequest(id=launched.id), metadata=p.as_tenant(), timeout=30)
