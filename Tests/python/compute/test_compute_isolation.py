"""Tenant isolation of compute, as complete as identity's: every RPC another tenant makes on a
tenant's instances, images and VPCs (and launching with them) is refused NOT_FOUND (or
PERMISSION_DENIED), the other tenant's lists never show them, and a fingerprint of compute's
tables taken before and after proves none of the refused calls changed anything."""
import subprocess
import time
import uuid
from pathlib import Path

import grpc
import pytest

from test_compute_operations import import_requests, rootfs_tarball

PSQL = Path("/usr/lib/postgresql/15/bin/psql")
REFUSED = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED)


def psql(dsn, sql):
    out = subprocess.run([str(PSQL), "-At", "-d", dsn, "-c", sql], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def fingerprint(dsn, tenants):
    """Every row of every table in compute's schema that mentions one of `tenants` (a column
    or inside a JSON payload, e.g. the outbox), as text, per table."""
    tables = psql(dsn, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'compute' "
                       "AND table_type = 'BASE TABLE' ORDER BY 1").split()
    assert {"instances", "vpcs", "images"} <= set(tables), tables
    match = " OR ".join(f"r::text LIKE '%{t}%'" for t in tenants)
    return psql(dsn, "; ".join(f"SELECT '{t}', coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '') "
                               f"FROM compute.\"{t}\" r WHERE {match}" for t in tables))


def stable_fingerprint(dsn, tenants, timeout=30):
    """Waits until background work (the reconciler, the outbox) has settled the rows."""
    deadline = time.time() + timeout
    last = fingerprint(dsn, tenants)
    while True:
        time.sleep(1)
        now = fingerprint(dsn, tenants)
        if now == last:
            return now
        assert time.time() < deadline, "compute's rows never settled"
        last = now


def refused(call):
    with pytest.raises(grpc.RpcError) as error:
        result = call()
        if hasattr(result, "__iter__") and not hasattr(result, "SerializeToString"):
            list(result)  # a server stream answers on the first read
    return error.value.code()


def test_another_tenant_reaches_nothing_and_changes_nothing(platform):
    pb, p = platform.pb, platform
    owner_tenant, stranger_tenant = p.new_tenant("iso-owner"), p.new_tenant("iso-stranger")
    owner, stranger = p.as_tenant(owner_tenant), p.as_tenant(stranger_tenant)
    suffix = uuid.uuid4().hex[:6]
    running = p.instances.LaunchInstance(pb.LaunchInstanceRequest(name=f"run-{suffix}", image="busybox", command=["sleep", "600"]),
                                         metadata=owner, timeout=30)
    stopped = p.instances.LaunchInstance(pb.LaunchInstanceRequest(name=f"stop-{suffix}", image="busybox", command=["sleep", "600"]),
                                         metadata=owner, timeout=30)
    vpc = p.vpcs.CreateVpc(pb.CreateVpcRequest(name=f"iso-{suffix}", cidr=f"10.{100 + int(suffix[:2], 16) % 100}.{int(suffix[2:4], 16)}.0/24"),
                           metadata=owner, timeout=30)
    image_name = f"private-{suffix}:v1"
    image = p.images.ImportImage(import_requests(pb, image_name, rootfs_tarball("private")), metadata=owner, timeout=120)
    try:
        assert p.wait_state(running.id, [pb.INSTANCE_STATE_RUNNING], metadata=owner).state == pb.INSTANCE_STATE_RUNNING
        assert p.wait_state(stopped.id, [pb.INSTANCE_STATE_RUNNING], metadata=owner).state == pb.INSTANCE_STATE_RUNNING
        p.instances.StopInstance(pb.InstanceActionRequest(id=stopped.id), metadata=owner, timeout=30)
        assert p.wait_state(stopped.id, [pb.INSTANCE_STATE_STOPPED], metadata=owner).state == pb.INSTANCE_STATE_STOPPED
        before = stable_fingerprint(p.postgres, [owner_tenant, stranger_tenant])
        assert running.id in before and vpc.id in before and image.id in before, "the fingerprint covers the resources"

        calls = {
            "GetInstance": lambda: p.instances.GetInstance(pb.GetInstanceRequest(id=running.id), metadata=stranger, timeout=30),
            "StopInstance": lambda: p.instances.StopInstance(pb.InstanceActionRequest(id=running.id), metadata=stranger, timeout=30),
            "StartInstance": lambda: p.instances.StartInstance(pb.InstanceActionRequest(id=stopped.id), metadata=stranger, timeout=30),
            "RebootInstance": lambda: p.instances.RebootInstance(pb.InstanceActionRequest(id=running.id), metadata=stranger, timeout=30),
            "TerminateInstance": lambda: p.instances.TerminateInstance(pb.InstanceActionRequest(id=running.id), metadata=stranger, timeout=30),
            "StreamInstanceLogs": lambda: p.instances.StreamInstanceLogs(pb.StreamInstanceLogsRequest(id=running.id), metadata=stranger, timeout=30),
            "GetInstanceStats": lambda: p.instances.GetInstanceStats(pb.GetInstanceStatsRequest(id=running.id), metadata=stranger, timeout=30),
            "GetImage": lambda: p.images.GetImage(pb.GetImageRequest(id=image.id), metadata=stranger, timeout=30),
            "DeleteImage": lambda: p.images.DeleteImage(pb.DeleteImageRequest(id=image.id), metadata=stranger, timeout=30),
            "GetVpc": lambda: p.vpcs.GetVpc(pb.GetVpcRequest(id=vpc.id), metadata=stranger, timeout=30),
            "DeleteVpc": lambda: p.vpcs.DeleteVpc(pb.DeleteVpcRequest(id=vpc.id), metadata=stranger, timeout=30),
            "LaunchInstance into the owner's VPC": lambda: p.instances.LaunchInstance(pb.LaunchInstanceRequest(
                name=f"intruder-vpc-{suffix}", image="busybox", command=["sleep", "600"], vpc_id=vpc.id), metadata=stranger, timeout=30),
            "LaunchInstance from the owner's private image": lambda: p.instances.LaunchInstance(pb.LaunchInstanceRequest(
                name=f"intruder-image-{suffix}", image=image_name, command=["sleep", "600"]), metadata=stranger, timeout=30),
        }
        answers = {name: refused(call) for name, call in calls.items()}
        assert {name: code for name, code in answers.items() if code not in REFUSED} == {}, answers

        # The stranger's lists hold none of it.
        assert p.instances.ListInstances(pb.ListInstancesRequest(page_size=100), metadata=stranger, timeout=30).instances == []
        assert p.vpcs.ListVpcs(pb.ListVpcsRequest(), metadata=stranger, timeout=30).vpcs == []
        listed_images = p.images.ListImages(pb.ListImagesRequest(), metadata=stranger, timeout=30).images
        assert image.id not in [i.id for i in listed_images] and image_name not in [i.name for i in listed_images]

        assert stable_fingerprint(p.postgres, [owner_tenant, stranger_tenant]) == before, "a refused call changed compute's tables"
        # The owner still has everything, as it was.
        assert p.instances.GetInstance(pb.GetInstanceRequest(id=running.id), metadata=owner, timeout=30).state == pb.INSTANCE_STATE_RUNNING
        assert p.images.GetImage(pb.GetImageRequest(id=image.id), metadata=owner, timeout=30).name == image_name
        assert p.vpcs.GetVpc(pb.GetVpcRequest(id=vpc.id), metadata=owner, timeout=30).id == vpc.id
    finally:
        for instance in (running, stopped):
            p.instances.TerminateInstance(pb.InstanceActionRequest(id=instance.id), metadata=owner, timeout=30)
        for instance in (running, stopped):
            p.wait_state(instance.id, [pb.INSTANCE_STATE_TERMINATED], metadata=owner)
        p.images.DeleteImage(pb.DeleteImageRequest(id=image.id), metadata=owner, timeout=30)
        p.vpcs.DeleteVpc(pb.DeleteVpcRequest(id=vpc.id), metadata=owner, timeout=30)
