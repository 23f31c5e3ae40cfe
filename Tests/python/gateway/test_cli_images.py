"""`nimbus images import` streams a root filesystem tarball through the gateway (ImportImage,
client streaming) into compute; an instance then runs from the imported image. Bad input is
refused with the usual exit codes and leaves no image behind."""
import io
import json
import os
import shlex
import shutil
import subprocess
import tarfile
import time
import uuid

import pytest

import suite_support
from conftest import BIN


@pytest.fixture(scope="module")
def compute_ready(platform):
    assert platform.compute, "the gateway suite runs compute (its fixture fails when it cannot)"


@pytest.fixture
def cli_env(gateway, platform, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIMBUS_")}
    env["NIMBUS_CONFIG"] = str(tmp_path / "config.json")
    cli(["configure", "--endpoint", gateway.url, "--api-key", platform.admin_key], env)
    suite_support.cli_config(tmp_path / "config.json", platform.admin_key)
    return env


def cli(args, env, check=True, timeout=300):
    result = subprocess.run([str(BIN / "nimbus"), *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"nimbus {' '.join(args)} → {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def rootfs_tarball(path, greeting):
    """The static busybox with a few applet links and /etc/greeting: a bootable rootfs."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    with tarfile.open(path, mode="w") as tar:
        for directory in ("bin", "etc", "tmp"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in ("sh", "cat", "sleep"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        marker = greeting.encode() + b"\n"
        info = tarfile.TarInfo("etc/greeting")
        info.size = len(marker)
        tar.addfile(info, io.BytesIO(marker))
    return path


def image_names(env):
    listed = json.loads(cli(["images", "list", "--all", "-o", "json"], env).stdout)
    items = listed["items"] if isinstance(listed, dict) and "items" in listed else listed
    return [i["name"] for i in items]


def test_images_import_streams_a_tarball_an_instance_then_runs(cli_env, compute_ready, tmp_path):
    env = cli_env
    greeting = f"cli-imported-{uuid.uuid4().hex[:8]}"
    tarball = rootfs_tarball(tmp_path / "tools.tar", greeting)
    assert tarball.stat().st_size > 4 * 256 * 1024, "several chunks"
    name = f"tools-{uuid.uuid4().hex[:6]}"

    result = cli(["images", "import", str(tarball), "--name", name, "--tag", "v1", "--description", "from the cli", "-o", "json"], env)
    image = json.loads(result.stdout)
    assert image["name"] == f"{name}:v1" and image["description"] == "from the cli"
    assert int(image["sizeBytes"]) > 0
    assert f"imported image {name}:v1" in result.stderr
    assert f"{name}:v1" in image_names(env)
    assert f"{name}:v1" in cli(["images", "list"], env).stdout

    launched = json.loads(cli(["instances", "launch", "--name", f"imp-{uuid.uuid4().hex[:6]}", "--image", f"{name}:v1", "--wait",
                               "-o", "json", "--", "sh", "-c", "cat /etc/greeting; exec sleep 600"], env).stdout)
    try:
        assert launched["state"] == "INSTANCE_STATE_RUNNING"
        deadline = time.time() + 20
        while greeting not in cli(["instances", "logs", launched["id"]], env).stdout:
            assert time.time() < deadline, "the instance never printed the imported file"
            time.sleep(0.3)
    finally:
        cli(["instances", "terminate", launched["id"], "--wait"], env)
    cli(["images", "delete", image["id"]], env)
    assert f"{name}:v1" not in image_names(env)


def test_images_import_shows_progress_on_a_terminal(cli_env, compute_ready, tmp_path):
    assert shutil.which("script"), "util-linux `script` (Debian: bsdutils, always installed) gives the pseudo-terminal"
    tarball = rootfs_tarball(tmp_path / "tty.tar", "tty")
    name = f"tty-{uuid.uuid4().hex[:6]}"
    command = shlex.join([str(BIN / "nimbus"), "images", "import", str(tarball), "--name", name, "-o", "json"])
    result = subprocess.run(["script", "-qec", command, "/dev/null"], env=cli_env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "uploading " + name in result.stdout and "%)" in result.stdout, result.stdout
    image = json.loads(result.stdout[result.stdout.index("{"):result.stdout.rindex("}") + 1])
    cli(["images", "delete", image["id"]], cli_env)


def test_images_import_refuses_bad_input(cli_env, compute_ready, tmp_path):
    env = cli_env
    name = f"bad-{uuid.uuid4().hex[:6]}"
    assert cli(["images", "import", str(tmp_path / "missing.tar"), "--name", name], env, check=False).returncode == 64
    assert cli(["images", "import", str(tmp_path), "--name", name], env, check=False).returncode == 64
    (tmp_path / "empty.tar").write_bytes(b"")
    assert cli(["images", "import", str(tmp_path / "empty.tar"), "--name", name], env, check=False).returncode == 64
    tarball = rootfs_tarball(tmp_path / "ok.tar", "x")
    assert cli(["images", "import", str(tarball), "--name", f"{name}:a", "--tag", "b"], env, check=False).returncode == 64
    refused = cli(["images", "import", str(tarball), "--name", "Not A Name"], env, check=False)
    assert refused.returncode == 4, refused.stderr
    (tmp_path / "junk.tar").write_bytes(b"not a tar archive\n" * 1000)
    junk = cli(["images", "import", str(tmp_path / "junk.tar"), "--name", name], env, check=False)
    assert junk.returncode == 4, junk.stderr
    assert "INVALID_ARGUMENT" in junk.stderr or "invalid" in junk.stderr.lower()
    assert name not in image_names(env), "a refused import leaves nothing behind"
