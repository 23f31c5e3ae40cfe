"""grpcio drives the real nimbus-compute (with the real nimbus-identity for quotas) against a
real podman: instances are containers whose published 127.0.0.1 ports answer."""
import subprocess
import threading
import time
import uuid

import grpc
import pytest


def curl(port):
    result = subprocess.run(["curl", "-s", "-m", "3", f"http://127.0.0.1:{port}/"], capture_output=True, text=True)
    return result.returncode, result.stdout


def eventually(check, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def readyz(p):
    result = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "5", f"http://{p.compute_address}/readyz"],
                            capture_output=True, text=True)
    return int(result.stdout or 0)


def http_server(pb, name, vpc_id=""):
    return pb.LaunchInstanceRequest(name=name, image="busybox", instance_type="basic-1", vpc_id=vpc_id,
                                    command=["httpd", "-f", "-v", "-p", "8080", "-h", "/www"],
                                    ports=[pb.PortMapping(container_port=8080)], labels={"suite": "e2e"})


def test_instance_life_cycle(platform):
    pb, p = platform.pb, platform
    # A tenant of its own: the shared one's usage moves while other tests' instances terminate.
    tenant = p.new_tenant("life-cycle")
    caller = p.as_tenant(tenant)
    assert p.quota(tenant).used.instances == 0
    launched = p.instances.LaunchInstance(http_server(pb, f"web-{uuid.uuid4().hex[:6]}"), metadata=caller, timeout=30)
    assert launched.state == pb.INSTANCE_STATE_PENDING
    running = p.wait_state(launched.id, [pb.INSTANCE_STATE_RUNNING, pb.INSTANCE_STATE_ERROR], metadata=caller)
    assert running.state == pb.INSTANCE_STATE_RUNNING, running.state_reason
    assert p.quota(tenant).used.instances == 1
    port = running.published[0].host_port
    assert running.published[0].host_ip == "127.0.0.1"
    assert eventually(lambda: "hello from nimbus busybox" in curl(port)[1])

    p.instances.StopInstance(pb.InstanceActionRequest(id=launched.id), metadata=caller, timeout=30)
    assert p.wait_state(launched.id, [pb.INSTANCE_STATE_STOPPED], metadata=caller).state == pb.INSTANCE_STATE_STOPPED
    assert curl(port)[0] != 0, "a stopped instance's port refuses"
    with pytest.raises(grpc.RpcError) as refused:
        p.instances.RebootInstance(pb.InstanceActionRequest(id=launched.id), metadata=caller, timeout=30)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    p.instances.StartInstance(pb.InstanceActionRequest(id=launched.id), metadata=caller, timeout=30)
    again = p.wait_state(launched.id, [pb.INSTANCE_STATE_RUNNING], metadata=caller)
    assert eventually(lambda: "hello" in curl(again.published[0].host_port)[1])

    chunks = p.instances.StreamInstanceLogs(pb.StreamInstanceLogsRequest(id=launched.id), metadata=caller, timeout=30)
    assert "response:200" in b"".join(c.data for c in chunks).decode()

    p.instances.TerminateInstance(pb.InstanceActionRequest(id=launched.id), metadata=caller, timeout=30)
    assert p.wait_state(launched.id, [pb.INSTANCE_STATE_TERMINATED], metadata=caller).state == pb.INSTANCE_STATE_TERMINATED
    listed = p.podman.cli("ps", "-a", "-q", "--filter", f"label=nimbus.instance={launched.id}").stdout.strip()
    assert listed == "", "the engine no longer lists the container"
    assert eventually(lambda: p.quota(tenant).used.instances == 0), "terminate releases the quota"


def test_killed_behind_the_back_shows_within_10s(platform):
    pb, p = platform.pb, platform
    launched = p.instances.LaunchInstance(pb.LaunchInstanceRequest(name=f"victim-{uuid.uuid4().hex[:6]}", image="busybox",
                                                                   command=["sleep", "600"]), metadata=p.as_tenant(), timeout=30)
    running = p.wait_state(launched.id, [pb.INSTANCE_STATE_RUNNING])
    p.podman.cli("kill", f"nimbus-{launched.id}")
    started = time.time()
    seen = p.wait_state(launched.id, [pb.INSTANCE_STATE_STOPPED, pb.INSTANCE_STATE_ERROR], timeout=10)
    assert seen.state == pb.INSTANCE_STATE_ERROR and seen.has_exit_code and seen.exit_code == 137
    assert time.time() - started < 10
    p.instances.TerminateInstance(pb.InstanceActionRequest(id=launched.id), metadata=p.as_tenant(), timeout=30)


def test_vpcs_connect_their_own_instances_only(platform):
    pb, p = platform.pb, platform
    suffix = uuid.uuid4().hex[:6]
    octet = int(suffix[:2], 16) % 100
    a = p.vpcs.CreateVpc(pb.CreateVpcRequest(name=f"a-{suffix}", cidr=f"172.20.{octet}.0/24"), metadata=p.as_tenant(), timeout=30)
    b = p.vpcs.CreateVpc(pb.CreateVpcRequest(name=f"b-{suffix}", cidr=f"172.20.{octet + 100}.0/24"), metadata=p.as_tenant(), timeout=30)
    with pytest.raises(grpc.RpcError) as overlap:
        p.vpcs.CreateVpc(pb.CreateVpcRequest(name=f"c-{suffix}", cidr=f"172.20.{octet}.128/25"), metadata=p.as_tenant(), timeout=30)
    assert overlap.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    server = p.instances.LaunchInstance(http_server(pb, f"srv-{suffix}", a.id), metadata=p.as_tenant(), timeout=30)
    address = p.wait_state(server.id, [pb.INSTANCE_STATE_RUNNING]).private_ip
    assert address.startswith(f"172.20.{octet}.")
    probe = ["sh", "-c", f"sleep 1; if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {address} 8080 2>/dev/null | grep -q hello; "
                         "then echo REACHED; else echo BLOCKED; fi; sleep 600"]
    same = p.instances.LaunchInstance(pb.LaunchInstanceRequest(name=f"same-{suffix}", image="busybox", command=probe, vpc_id=a.id),
                                      metadata=p.as_tenant(), timeout=30)
    other = p.instances.LaunchInstance(pb.LaunchInstanceRequest(name=f"other-{suffix}", image="busybox", command=probe, vpc_id=b.id),
                                       metadata=p.as_tenant(), timeout=30)

    def output(instance_id):
        try:
            chunks = p.instances.StreamInstanceLogs(pb.StreamInstanceLogsRequest(id=instance_id), metadata=p.as_tenant(), timeout=30)
            return b"".join(c.data for c in chunks).decode()
        except grpc.RpcError as error:  # still PENDING: no container yet
            assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
            return ""

    assert eventually(lambda: "REACHED" in output(same.id), timeout=20)
    assert eventually(lambda: "BLOCKED" in output(other.id), timeout=20), output(other.id)
    with pytest.raises(grpc.RpcError) as in_use:
        p.vpcs.DeleteVpc(pb.DeleteVpcRequest(id=a.id), metadata=p.as_tenant(), timeout=30)
    assert in_use.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    for instance in (server, same, other):
        p.instances.TerminateInstance(pb.InstanceActionRequest(id=instance.id), metadata=p.as_tenant(), timeout=30)
    for instance in (server, same, other):
        p.wait_state(instance.id, [pb.INSTANCE_STATE_TERMINATED])
    p.vpcs.DeleteVpc(pb.DeleteVpcRequest(id=a.id), metadata=p.as_tenant(), timeout=30)
    p.vpcs.DeleteVpc(pb.DeleteVpcRequest(id=b.id), metadata=p.as_tenant(), timeout=30)


def test_twenty_concurrent_launches_against_a_quota_of_five(platform):
    pb, ipb, p = platform.pb, platform.ipb, platform
    tenant = p.new_tenant("quota")
    p.quotas.SetQuota(ipb.SetQuotaRequest(tenant_id=tenant, limits=ipb.QuotaResources(
        instances=5, vcpus=100, memory_mb=100_000, storage_gb=100, buckets=10, databases=10)), metadata=p.admin(), timeout=30)
    results = []

    def launch(n):
        try:
            results.append(p.instances.LaunchInstance(
                pb.LaunchInstanceRequest(name=f"q-{n}", image="busybox", command=["sleep", "600"]),
                metadata=p.as_tenant(tenant), timeout=60))
        except grpc.RpcError as error:
            results.append(error.code())

    threads = [threading.Thread(target=launch, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    launched = [r for r in results if not isinstance(r, grpc.StatusCode)]
    refused = [r for r in results if isinstance(r, grpc.StatusCode)]
    assert len(launched) == 5
    assert refused == [grpc.StatusCode.RESOURCE_EXHAUSTED] * 15
    for instance in launched:
        assert p.wait_state(instance.id, [pb.INSTANCE_STATE_RUNNING], metadata=p.as_tenant(tenant)).state == pb.INSTANCE_STATE_RUNNING
    containers = p.podman.cli("ps", "-a", "-q", "--filter", f"label=nimbus.tenant={tenant}").stdout.split()
    assert len(containers) == 5
    for instance in launched:
        p.instances.TerminateInstance(pb.InstanceActionRequest(id=instance.id), metadata=p.as_tenant(tenant), timeout=30)


def test_another_tenant_cannot_see_stop_or_terminate(platform):
    pb, p = platform.pb, platform
    stranger = p.as_tenant(p.new_tenant("stranger"))
    launched = p.instances.LaunchInstance(pb.LaunchInstanceRequest(name=f"mine-{uuid.uuid4().hex[:6]}", image="busybox",
                                                                   command=["sleep", "600"]), metadata=p.as_tenant(), timeout=30)
    for call in (lambda: p.instances.GetInstance(pb.GetInstanceRequest(id=launched.id), metadata=stranger, timeout=30),
                 lambda: p.instances.StopInstance(pb.InstanceActionRequest(id=launched.id), metadata=stranger, timeout=30),
                 lambda: p.instances.TerminateInstance(pb.InstanceActionRequest(id=launched.id), metadata=stranger, timeout=30)):
        with pytest.raises(grpc.RpcError) as error:
            call()
        assert error.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as unsigned:
        p.instances.GetInstance(pb.GetInstanceRequest(id=launched.id), timeout=30)
    assert unsigned.value.code() == grpc.StatusCode.UNAUTHENTICATED
    viewer = p.as_tenant(permissions=["instance:read"])
    with pytest.raises(grpc.RpcError) as denied:
        p.instances.StopInstance(pb.InstanceActionRequest(id=launched.id), metadata=viewer, timeout=30)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    p.instances.TerminateInstance(pb.InstanceActionRequest(id=launched.id), metadata=p.as_tenant(), timeout=30)


def test_engine_stopped_readyz_follows_launch_fails_cleanly_and_reads_still_work(platform):
    pb, p = platform.pb, platform
    # A tenant of its own: the shared one's usage still moves while earlier tests' instances
    # finish terminating (their quota comes back after they read TERMINATED).
    tenant = p.new_tenant("engine-down")
    caller = p.as_tenant(tenant)
    assert p.quota(tenant).used.instances == 0
    assert readyz(p) == 200
    p.podman.script("stop")
    try:
        assert eventually(lambda: readyz(p) == 503, timeout=30), "compute's /readyz did not follow the engine down"
        with pytest.raises(grpc.RpcError) as error:
            p.instances.LaunchInstance(pb.LaunchInstanceRequest(name=f"down-{uuid.uuid4().hex[:6]}", image="busybox"),
                                       metadata=caller, timeout=30)
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE
        listed = p.instances.ListInstances(pb.ListInstancesRequest(state=pb.INSTANCE_STATE_ERROR), metadata=caller, timeout=30)
        assert any(i.name.startswith("down-") and "unavailable" in i.state_reason for i in listed.instances)
        assert eventually(lambda: p.quota(tenant).used.instances == 0), "the failed launch released its quota"
        types = p.types.ListInstanceTypes(pb.ListInstanceTypesRequest(), metadata=caller, timeout=30)
        assert [t.id for t in types.instance_types][:2] == ["basic-1", "basic-2"]
    finally:
        p.podman.script("start")
    # Restored for the tests after this one, and /readyz follows the engine back up.
    assert eventually(lambda: readyz(p) == 200, timeout=30), "compute's /readyz did not follow the engine back"


def test_mutations_reach_identity_as_audit_events(platform):
    pb, ipb, p = platform.pb, platform.ipb, platform
    # In the admin's own tenant: that is the audit chain the admin's key reads.
    caller = p.as_tenant(p.home_tenant_id)
    launched = p.instances.LaunchInstance(pb.LaunchInstanceRequest(name=f"audited-{uuid.uuid4().hex[:6]}", image="busybox",
                                                                   command=["sleep", "600"]), metadata=caller, timeout=30)
    audit = p.irpc.AuditStub(p.identity_channel)

    def actions():
        events = audit.ListAuditEvents(ipb.ListAuditEventsRequest(resource_id=launched.id, page_size=50), metadata=p.admin(), timeout=30)
        return {e.action for e in events.events if e.source == "nimbus-compute"}

    assert eventually(lambda: "instance.launch" in actions(), timeout=15)
    p.instances.TerminateInstance(pb.InstanceActionRequest(id=launched.id), metadata=caller, timeout=30)
    assert eventually(lambda: {"instance.terminate", "instance.terminated"} <= actions(), timeout=20)
