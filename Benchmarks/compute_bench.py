"""Driver of Benchmarks/compute.sh: starts the platform pieces like the compute end-to-end
suite does (Tests/python/compute/conftest.py), then per round: the engine API's create + start
(the headline reference: the least any launch costs, over one kept-open connection), a bare
`podman run -d` (a CLI process, for scale) and one LaunchInstance → RUNNING. Release build
only; every launch must reach RUNNING and compute must count every LaunchInstance as OK, or no
ratio is printed (Benchmarks/benchlib.py)."""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "python"))
sys.path.insert(0, str(ROOT / "Tests" / "python" / "compute"))
sys.path.insert(0, str(ROOT / "Benchmarks"))
import benchlib  # noqa: E402
import conftest  # noqa: E402  (helpers: signing, binaries, podman)

import grpc  # noqa: E402


def main(rounds):
    benchlib.require_release(conftest.BIN)
    pg_dir = Path(tempfile.mkdtemp(prefix="nimbus-bench-pg-"))
    script = ROOT / "scripts" / "test-postgres.sh"
    out = subprocess.run([str(script), "start", str(pg_dir), "--watch-pid", str(os.getpid())],
                         check=True, capture_output=True, text=True).stdout
    dsn = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)["TCP_DSN"]
    podman = conftest.Podman(Path(tempfile.mkdtemp(prefix="nimbus-bench-podman-")))
    podman.script("start", "--watch-pid", str(os.getpid()))
    subprocess.run([str(ROOT / "scripts" / "build-images.sh")], env=podman.env, check=True, capture_output=True)
    logs = Path(tempfile.mkdtemp(prefix="nimbus-bench-logs-"))
    processes = []
    try:
        stubs = generate_stubs(logs)
        base = {k: v for k, v in os.environ.items() if not k.startswith("NIMBUS_")}
        base.update({"NIMBUS_PRINCIPAL_KEY": conftest.PRINCIPAL_KEY, "NIMBUS_LOG_FORMAT": "text", "NIMBUS_LOG_LEVEL": "warning"})
        identity_env = {**base, "NIMBUS_IDENTITY_DATABASE_URL": dsn}
        boot = subprocess.run([str(conftest.BIN / "nimbus-identity"), "bootstrap", "--email", "bench@example.com",
                               "--password", "bootstrap-password-1", "--tenant", "bench"],
                              capture_output=True, text=True, env=identity_env, timeout=120, check=True)
        admin_key = re.search(r"nmb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}", boot.stdout).group(0)
        identity_address, identity, log1 = conftest.start_binary("nimbus-identity", [], identity_env, logs)
        processes.append((identity, log1))
        compute_env = {**base, "NIMBUS_COMPUTE_DATABASE_URL": dsn, "NIMBUS_IDENTITY_ENDPOINTS": identity_address,
                       "NIMBUS_DOCKER_SOCKET": podman.socket, "NIMBUS_COMPUTE_KEK": conftest.COMPUTE_KEK}
        compute_address, compute, log2 = conftest.start_binary("nimbus-compute", [], compute_env, logs)
        processes.append((compute, log2))
        platform = conftest.Platform(stubs, identity_address, compute_address, admin_key, podman)
        pb = platform.pb
        command = ["httpd", "-f", "-p", "8080", "-h", "/www"]
        engine = benchlib.UnixHTTPConnection(podman.socket)
        # Sanity and warm-up of each path (image layers, the default VPC network): each must work.
        measure_nimbus(platform, pb, command)
        measure_podman(podman, command)
        measure_api(engine, podman, command)
        nimbus, bare, api = [], [], []
        try:
            with benchlib.OkCounter(compute_address, "nimbus.compute.v1.Instances", "LaunchInstance", rounds):
                for n in range(rounds):
                    api.append(measure_api(engine, podman, command))
                    bare.append(measure_podman(podman, command))
                    nimbus.append(measure_nimbus(platform, pb, command))
                    print(f"round {n + 1}: engine API create+start {api[-1] * 1000:.0f} ms, podman run {bare[-1] * 1000:.0f} ms, "
                          f"nimbus launch→RUNNING {nimbus[-1] * 1000:.0f} ms", flush=True)
        except (benchlib.VoidRound, AssertionError, grpc.RpcError) as error:
            sys.exit(f"compute.sh: void run, no ratio is printed: {error}")
        median = {k: statistics.median(v) for k, v in (("bare", bare), ("api", api), ("nimbus", nimbus))}
        print(f"median: engine API create+start {median['api'] * 1000:.0f} ms, podman run {median['bare'] * 1000:.0f} ms, "
              f"nimbus {median['nimbus'] * 1000:.0f} ms ({rounds} launches, all RUNNING, all counted OK by compute)")
        print(f"ratio nimbus / engine API create+start: {median['nimbus'] / median['api']:.2f}x (headline; target ≤ 1.5x); "
              f"nimbus / podman run: {median['nimbus'] / median['bare']:.2f}x")
    finally:
        for process, log in reversed(processes):
            conftest.stop_binary(process, log)
        podman.script("destroy", check=False)
        subprocess.run([str(script), "stop", str(pg_dir)], capture_output=True)


def generate_stubs(out):
    import grpc_tools
    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = [str(p.relative_to(ROOT / "Protos")) for p in (ROOT / "Protos").rglob("*.proto")
              if p.parts[-3:-1] in (("compute", "v1"), ("identity", "v1")) or "google/api" in str(p)]
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'Protos'}", f"-I{include}",
                    f"--python_out={out}", f"--grpc_python_out={out}", *protos], check=True)
    sys.path.insert(0, str(out))
    from nimbus.compute.v1 import compute_pb2, compute_pb2_grpc
    from nimbus.identity.v1 import identity_pb2, identity_pb2_grpc
    return compute_pb2, compute_pb2_grpc, identity_pb2, identity_pb2_grpc


def measure_podman(podman, command):
    name = f"bench-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    podman.cli("run", "-d", "--name", name, "-p", "127.0.0.1::8080", "localhost/nimbus/busybox", *command)
    elapsed = time.perf_counter() - started
    podman.cli("rm", "-f", "-t", "0", name)
    return elapsed


def measure_api(engine, podman, command):
    """The engine calls a launch needs at least (create, start), on a kept-open connection."""
    import json
    name = f"bench-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"Image": "localhost/nimbus/busybox", "Cmd": command, "ExposedPorts": {"8080/tcp": {}},
                       "HostConfig": {"PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}}})
    started = time.perf_counter()
    engine.call("POST", f"/v1.41/containers/create?name={name}", body=body)
    engine.call("POST", f"/v1.41/containers/{name}/start", expect=(204,))
    elapsed = time.perf_counter() - started
    running = json.loads(engine.call("GET", f"/v1.41/containers/{name}/json"))["State"]["Running"]
    podman.cli("rm", "-f", "-t", "0", name)
    if not running:
        raise benchlib.VoidRound(f"the engine API's container {name} is not running")
    return elapsed


def measure_nimbus(platform, pb, command):
    request = pb.LaunchInstanceRequest(name=f"bench-{uuid.uuid4().hex[:8]}", image="busybox", command=command,
                                       ports=[pb.PortMapping(container_port=8080)])
    started = time.perf_counter()
    launched = platform.instances.LaunchInstance(request, metadata=platform.as_tenant(), timeout=60)
    while True:
        instance = platform.instances.GetInstance(pb.GetInstanceRequest(id=launched.id), metadata=platform.as_tenant(), timeout=30)
        if instance.state != pb.INSTANCE_STATE_PENDING:
            break
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    assert instance.state == pb.INSTANCE_STATE_RUNNING, instance.state_reason
    platform.instances.TerminateInstance(pb.InstanceActionRequest(id=launched.id), metadata=platform.as_tenant(), timeout=30)
    platform.wait_state(launched.id, [pb.INSTANCE_STATE_TERMINATED])
    return elapsed


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
