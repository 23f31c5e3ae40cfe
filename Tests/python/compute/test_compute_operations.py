"""RPCs the life-cycle suite does not cover, over the real gRPC server: RebootInstance (the
container restarts, the instance comes back RUNNING), GetInstanceStats (real cgroup numbers
from the engine) and ImportImage (a client stream of a root filesystem tarball that instances
then run)."""
import io
import shutil
import tarfile
import time
import uuid

import grpc
import pytest


def eventually(check, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def output(p, instance_id):
    try:
        chunks = p.instances.StreamInstanceLogs(p.pb.StreamInstanceLogsRequest(id=instance_id), metadata=p.as_tenant(), timeout=30)
        return b"".join(c.data for c in chunks).decode()
    except grpc.RpcError:
        return ""


def rootfs_tarball(greeting):
    """A minimal root filesystem: the static busybox, sh/echo/sleep links and a marker file."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("bin", "etc", "tmp"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in ("sh", "echo", "sleep", "cat"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        marker = greeting.encode() + b"\n"
        info = tarfile.TarInfo("etc/greeting")
        info.size = len(marker)
        tar.addfile(info, io.BytesIO(marker))
    return buffer.getvalue()


def import_requests(pb, name, data, chunk=64 * 1024, description=""):
    yield pb.ImportImageRequest(metadata=pb.ImportImageMetadata(name=name, description=description))
    for offset in range(0, len(data), chunk):
        yield pb.ImportImageRequest(chunk=data[offset:offset + chunk])


def test_reboot_restarts_the_container_and_returns_to_running(platform):
    pb, p = platform.pb, platform
    launched = p.instances.LaunchInstance(pb.LaunchInstanceRequest(
        name=f"reboot-{uuid.uuid4().hex[:6]}", image="busybox", command=["sh", "-c", "echo booted; exec sleep 600"]),
        metadata=p.as_tenant(), timeout=30)
    try:
        running = p.wait_state(launched.id, [pb.INSTANCE_STATE_RUNNING, pb.INSTANCE_STATE_ERROR])
        assert running.state == pb.INSTANCE_STATE_RUNNING, running.state_reason
        assert eventually(lambda: output(p, launched.id).count("booted") == 1)
        started = p.podman.cli("inspect", "-f", "{{.State.StartedAt}}", f"nimbus-{launched.id}").stdout.strip()

        rebooting = p.instances.RebootInstance(pb.InstanceActionRequest(id=launched.id, version=running.version),
                                               metadata=p.as_tenant(), timeout=30)
        assert rebooting.state in (pb.INSTANCE_STATE_REBOOTING, pb.INSTANCE_STATE_RUNNING)
        assert rebooting.version > running.version
        back = p.wait_state(launched.id, [pb.INSTANCE_STATE_RUNNING, pb.INSTANCE_STATE_ERROR])
        assert back.state == pb.INSTANCE_STATE_RUNNING and back.version > rebooting.version, back.state_reason
        assert eventually(lambda: output(p, launched.id).count("booted") == 2), "the command ran a second time"
        assert p.podman.cli("inspect", "-f", "{{.State.StartedAt}}", f"nimbus-{launched.id}").stdout.strip() != started

        with pytest.raises(grpc.RpcError) as stale:
            p.instances.RebootInstance(pb.InstanceActionRequest(id=launched.id, version=running.version), metadata=p.as_tenant(), timeout=30)
        assert stale.value.code() == grpc.StatusCode.ABORTED
        with pytest.raises(grpc.RpcError) as denied:
            p.instances.RebootInstance(pb.InstanceActionRequest(id=launched.id), metadata=p.as_tenant(permissions=["instance:read"]), timeout=30)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError) as missing:
            p.instances.RebootInstance(pb.InstanceActionRequest(id=str(uuid.uuid4())), metadata=p.as_tenant(), timeout=30)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        p.instances.TerminateInstance(pb.InstanceActionRequest(id=launched.id), metadata=p.as_tenant(), timeout=30)


def test_stats_of_a_running_instance(platform):
    pb, p = platform.pb, platform
    launched = p.instances.LaunchInstance(pb.LaunchInstanceRequest(
        name=f"stats-{uuid.uuid4().hex[:6]}", image="busybox", instance_type="basic-2",
        command=["sh", "-c", "while :; do :; done"]), metadata=p.as_tenant(), timeout=30)
    try:
        assert p.wait_state(launched.id, [pb.INSTANCE_STATE_RUNNING]).state == pb.INSTANCE_STATE_RUNNING
        stats = p.instances.GetInstanceStats(pb.GetInstanceStatsRequest(id=launched.id), metadata=p.as_tenant(), timeout=30)
        assert stats.instance_id == launched.id
        assert stats.memory_limit_bytes == 1024 * 1024 * 1024, "basic-2 has 1 GiB"
        assert 0 < stats.memory_usage_bytes < stats.memory_limit_bytes
        assert stats.pids >= 1
        assert stats.cpu_total_ns > 0
        assert stats.cpu_percent > 10, "a busy loop shows as CPU use"
        assert stats.read_time.seconds > 0

        viewer = p.instances.GetInstanceStats(pb.GetInstanceStatsRequest(id=launched.id),
                                              metadata=p.as_tenant(permissions=["instance:read"]), timeout=30)
        assert viewer.instance_id == launched.id
        stranger = p.as_tenant(p.new_tenant("stats-stranger"))
        with pytest.raises(grpc.RpcError) as hidden:
            p.instances.GetInstanceStats(pb.GetInstanceStatsRequest(id=launched.id), metadata=stranger, timeout=30)
        assert hidden.value.code() == grpc.StatusCode.NOT_FOUND

        p.instances.StopInstance(pb.InstanceActionRequest(id=launched.id), metadata=p.as_tenant(), timeout=30)
        assert p.wait_state(launched.id, [pb.INSTANCE_STATE_STOPPED]).state == pb.INSTANCE_STATE_STOPPED
        with pytest.raises(grpc.RpcError) as stopped:
            p.instances.GetInstanceStats(pb.GetInstanceStatsRequest(id=launched.id), metadata=p.as_tenant(), timeout=30)
        assert stopped.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        p.instances.TerminateInstance(pb.InstanceActionRequest(id=launched.id), metadata=p.as_tenant(), timeout=30)


def test_import_image_streams_a_tarball_that_instances_run(platform):
    pb, p = platform.pb, platform
    greeting = f"imported-{uuid.uuid4().hex[:8]}"
    data = rootfs_tarball(greeting)
    assert len(data) > 4 * 64 * 1024, "several chunks"
    name = f"tools-{uuid.uuid4().hex[:6]}:v1"
    image = p.images.ImportImage(import_requests(pb, name, data, description="grpc import"), metadata=p.as_tenant(), timeout=120)
    assert image.name == name and image.tenant_id == p.tenant_id and image.description == "grpc import"
    assert image.size_bytes > 0
    assert image.id in [i.id for i in p.images.ListImages(pb.ListImagesRequest(), metadata=p.as_tenant(), timeout=30).images]
    assert p.images.GetImage(pb.GetImageRequest(id=image.id), metadata=p.as_tenant(), timeout=30).name == name

    launched = p.instances.LaunchInstance(pb.LaunchInstanceRequest(
        name=f"from-import-{uuid.uuid4().hex[:6]}", image=name, command=["sh", "-c", "cat /etc/greeting; exec sleep 600"]),
        metadata=p.as_tenant(), timeout=30)
    try:
        running = p.wait_state(launched.id, [pb.INSTANCE_STATE_RUNNING, pb.INSTANCE_STATE_ERROR])
        assert running.state == pb.INSTANCE_STATE_RUNNING, running.state_reason
        assert eventually(lambda: greeting in output(p, launched.id))
    finally:
        p.instances.TerminateInstance(pb.InstanceActionRequest(id=launched.id), metadata=p.as_tenant(), timeout=30)
    p.wait_state(launched.id, [pb.INSTANCE_STATE_TERMINATED])
    p.images.DeleteImage(pb.DeleteImageRequest(id=image.id), metadata=p.as_tenant(), timeout=30)


@pytest.mark.parametrize("case", ["no-metadata", "metadata-twice", "bad-name", "empty", "not-a-tarball", "viewer"])
def test_import_image_refuses_bad_streams(platform, case):
    pb, p = platform.pb, platform
    name = f"bad-{uuid.uuid4().hex[:6]}"
    metadata = p.as_tenant()
    if case == "no-metadata":
        requests = iter([pb.ImportImageRequest(chunk=b"x" * 10)])
    elif case == "metadata-twice":
        requests = iter([pb.ImportImageRequest(metadata=pb.ImportImageMetadata(name=name)), pb.ImportImageRequest(chunk=b"x"),
                         pb.ImportImageRequest(metadata=pb.ImportImageMetadata(name=name))])
    elif case == "bad-name":
        requests = import_requests(pb, "Bad Name", rootfs_tarball("x"))
    elif case == "empty":
        requests = iter([pb.ImportImageRequest(metadata=pb.ImportImageMetadata(name=name))])
    elif case == "not-a-tarball":
        requests = import_requests(pb, name, b"this is not a tar archive" * 100)
    else:
        requests = import_requests(pb, name, rootfs_tarball("x"))
        metadata = p.as_tenant(permissions=["instance:read"])
    with pytest.raises(grpc.RpcError) as error:
        p.images.ImportImage(requests, metadata=metadata, timeout=60)
    expected = grpc.StatusCode.PERMISSION_DENIED if case == "viewer" else grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.code() == expected, error.value.details()
    names = [i.name for i in p.images.ListImages(pb.ListImagesRequest(), metadata=p.as_tenant(), timeout=30).images]
    assert name not in names, "nothing is left behind"
