"""Fixtures for the storage suite: a throwaway PostgreSQL, the real nimbus-identity,
nimbus-gateway (to mint API keys with S3 credentials over REST) and nimbus-storage with a data
directory of its own, all started from the built binaries (NIMBUS_BIN). S3 clients talk to
storage's own port, signing with SigV4 as they would against AWS."""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

import suite_support

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("NIMBUS_BIN", ROOT / ".build" / "debug"))
PRINCIPAL_KEY = "storage-suite-principal-key-0123456789abcdef"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "bootstrap-password-1"
IDENTITY_KEK = "c3RvcmFnZS1zdWl0ZS1pZGVudGl0eS1rZWstMDEyMzQ"  # 32 bytes, base64url: seals S3 secrets
suite_support.secret(PRINCIPAL_KEY, ADMIN_PASSWORD, IDENTITY_KEK)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIMBUS_")}
    env.update({"NIMBUS_PRINCIPAL_KEY": PRINCIPAL_KEY, "NIMBUS_LOG_FORMAT": "json",
                "NIMBUS_SCRYPT_TEST_PARAMETERS": "1"})
    env.update(extra)
    return env


class Process:
    """A binary serving on a port, with its log kept for failures."""

    def __init__(self, name, args, env, log_dir, port=None, prefix=()):
        self.name, self.args, self.env, self.log_dir, self.prefix = name, args, env, log_dir, list(prefix)
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self.start()

    def start(self):
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen([*self.prefix, str(BIN / self.args[0]), *self.args[1:], "--listen", self.address],
                                        env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            assert self.process.poll() is None, f"{self.name} exited: {self.log_path.read_text()[-4000:]}"
            try:
                if requests.get(f"http://{self.address}/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not become ready: {self.log_path.read_text()[-4000:]}")

    @property
    def url(self):
        return f"http://{self.address}"

    def kill(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.log.close()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory):
    return suite_support.logs(tmp_path_factory.mktemp("storage-logs"))


@pytest.fixture(scope="session")
def postgres():
    if os.environ.get("NIMBUS_TEST_DATABASE_URL"):
        yield os.environ["NIMBUS_TEST_DATABASE_URL"]
        return
    directory = Path(tempfile.mkdtemp(prefix="nimbus-storage-pg-"))
    script = ROOT / "scripts" / "test-postgres.sh"
    out = subprocess.run([str(script), "start", str(directory), "--watch-pid", str(os.getpid())],
                         check=True, capture_output=True, text=True).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    try:
        yield values["TCP_DSN"]
    finally:
        subprocess.run([str(script), "stop", str(directory)], capture_output=True)


class Platform:
    def __init__(self):
        self.identity = None
        self.gateway = None
        self.storage = None
        self.admin_key = None
        self.storage_dsn = None
        self.storage_env = None
        self.data_dir = None


@pytest.fixture(scope="session")
def platform(postgres, log_dir, tmp_path_factory):
    identity_dsn = suite_support.service_dsn(postgres, "nimbus-identity", "identity")
    storage_dsn = suite_support.service_dsn(postgres, "nimbus-storage", "storage")
    env = base_env(NIMBUS_IDENTITY_DATABASE_URL=identity_dsn, NIMBUS_IDENTITY_KEK=IDENTITY_KEK)
    boot = subprocess.run([str(BIN / "nimbus-identity"), "bootstrap", "--email", ADMIN_EMAIL,
                           "--password", ADMIN_PASSWORD, "--tenant", "acme"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert boot.returncode == 0, boot.stderr
    match = re.search(r"nmb_[a-z0-9]+_[A-Za-z0-9_-]+", boot.stdout)
    assert match, boot.stdout
    platform = Platform()
    platform.admin_key = match.group(0)
    suite_support.secret(platform.admin_key)
    started = []
    try:
        platform.identity = Process("nimbus-identity", ["nimbus-identity", "serve"], env, log_dir)
        started.append(platform.identity)
        platform.data_dir = tmp_path_factory.mktemp("storage-data")
        platform.storage_dsn = storage_dsn
        platform.storage_env = base_env(NIMBUS_STORAGE_DATABASE_URL=storage_dsn, NIMBUS_IDENTITY_ENDPOINTS=platform.identity.address,
                                        NIMBUS_STORAGE_DATA_DIR=str(platform.data_dir),
                                        NIMBUS_STORAGE_JANITOR_GRACE_SECONDS="1", NIMBUS_STORAGE_JANITOR_INTERVAL_SECONDS="1")
        platform.storage = Process("nimbus-storage", ["nimbus-storage", "serve"], platform.storage_env, log_dir)
        started.append(platform.storage)
        platform.gateway = Process("nimbus-gateway", ["nimbus-gateway", "serve"],
                                   base_env(NIMBUS_IDENTITY_ENDPOINTS=platform.identity.address,
                                            NIMBUS_STORAGE_ENDPOINTS=platform.storage.address,
                                            NIMBUS_GATEWAY_STORAGE_HTTP=platform.storage.address,
                                            NIMBUS_GATEWAY_KEY_RATE="0", NIMBUS_GATEWAY_IP_RATE="0"), log_dir)
        started.append(platform.gateway)
        yield platform
    finally:
        for process in started + [platform.storage]:
            if process is not None:
                process.stop()


def create_s3_key(platform, api_key, name):
    """An API key with S3 credentials (the secret is shown once)."""
    answer = requests.post(f"{platform.gateway.url}/v1/api-keys", json={"name": name, "s3": True},
                           headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    suite_support.secret(body["secret"], body["s3"]["secretAccessKey"])
    return body


def create_tenant_admin(platform, slug):
    """A tenant with an admin user of its own, and that user's API key."""
    headers = {"Authorization": f"Bearer {platform.admin_key}"}
    tenant = requests.post(f"{platform.gateway.url}/v1/tenants", json={"name": slug, "slug": slug}, headers=headers, timeout=30)
    assert tenant.status_code == 200, tenant.text
    return tenant.json()


@pytest.fixture(scope="session")
def s3key(platform):
    return create_s3_key(platform, platform.admin_key, "s3-suite")


def client(platform, key, endpoint=None, **config):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=endpoint or platform.storage.url, region_name="us-east-1",
                        aws_access_key_id=key["s3"]["accessKeyId"], aws_secret_access_key=key["s3"]["secretAccessKey"],
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config))


@pytest.fixture(scope="session")
def s3(platform, s3key):
    return client(platform, s3key)
