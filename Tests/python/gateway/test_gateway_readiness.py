"""The gateway's /readyz follows identity: not ready while no identity replica answers (every
request is authenticated there), ready once one does, not ready again when it goes away.
/healthz (process up) stays 200 throughout."""
import subprocess
import time

import requests

from conftest import BIN, Process, base_env, free_port


def wait_for(url, status, seconds=30):
    deadline = time.time() + seconds
    last = None
    while time.time() < deadline:
        try:
            last = requests.get(url, timeout=3).status_code
            if last == status:
                return
        except requests.RequestException as error:
            last = repr(error)
        time.sleep(0.1)
    raise AssertionError(f"{url}: wanted {status}, last saw {last}")


def test_readyz_follows_identity(identity_dsn, log_dir):
    identity_port = free_port()
    port = free_port()
    env = base_env(NIMBUS_IDENTITY_ENDPOINTS=f"127.0.0.1:{identity_port}", NIMBUS_COMPUTE_ENDPOINTS="127.0.0.1:1")
    log = open(log_dir / f"gateway-readiness-{port}.log", "a")
    gateway = subprocess.Popen([str(BIN / "nimbus-gateway"), "serve", "--listen", f"127.0.0.1:{port}"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    identity = None
    try:
        wait_for(f"{url}/healthz", 200)
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 503

        identity = Process("nimbus-identity", ["nimbus-identity", "serve"],
                           base_env(NIMBUS_IDENTITY_DATABASE_URL=identity_dsn), log_dir, port=identity_port)
        wait_for(f"{url}/readyz", 200)

        identity.stop()
        identity = None
        wait_for(f"{url}/readyz", 503)
        assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
    finally:
        if identity:
            identity.stop()
        gateway.terminate()
        gateway.wait(timeout=15)
        log.close()
