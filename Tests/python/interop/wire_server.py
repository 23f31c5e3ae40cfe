"""Starting and stopping nimbus-echo-server for the interop suite (imported by its tests
under a unique module name, so it cannot clash with other suites' conftest modules)."""
import os
import pathlib
import subprocess
import time

import grpc
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
MAX_MESSAGE = 4 * 1024 * 1024


class RunningServer:
    def __init__(self, process, port, mode, pki_dir, log_path):
        self.process = process
        self.port = port
        self.mode = mode
        self.pki = pki_dir
        self.log_path = log_path

    @property
    def target(self):
        return f"127.0.0.1:{self.port}"

    def channel(self, client_cert=True, **options):
        opts = [("grpc.max_receive_message_length", 16 * 1024 * 1024)] + list(options.items())
        if self.mode == "h2c":
            return grpc.insecure_channel(self.target, options=opts)
        key = (self.pki / "client.key").read_bytes() if client_cert else None
        chain = (self.pki / "client.pem").read_bytes() if client_cert else None
        creds = grpc.ssl_channel_credentials((self.pki / "ca.pem").read_bytes(), key, chain)
        return grpc.secure_channel(self.target, creds, options=opts + [("grpc.ssl_target_name_override", "localhost")])

    def log(self):
        return pathlib.Path(self.log_path).read_text(errors="replace")


def start_server(binary, mode, pki_dir, tmp_dir, extra=()):
    args = [str(binary), "--port", "0", "--max-message-size", str(MAX_MESSAGE), *extra]
    if mode != "h2c":
        args += ["--tls-cert", str(pki_dir / "server.pem"), "--tls-key", str(pki_dir / "server.key")]
        if mode == "mtls":
            args += ["--client-ca", str(pki_dir / "ca.pem")]
    log_path = pathlib.Path(tmp_dir) / f"server-{mode}.log"
    log = open(log_path, "w")
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
    deadline = time.time() + 20
    line = ""
    while time.time() < deadline:
        line = process.stdout.readline()
        if line.startswith("listening "):
            break
        if process.poll() is not None:
            break
    if not line.startswith("listening "):
        process.kill()
        pytest.fail(f"server did not start: {line!r}\n{log_path.read_text()}")
    return RunningServer(process, int(line.split()[1]), mode, pki_dir, log_path)


def stop_server(server):
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        pytest.fail("server did not stop within 10 s of SIGTERM")
    if server.process.returncode != 0:
        pytest.fail(f"server exited with {server.process.returncode} after SIGTERM\n{server.log()[-4000:]}")
