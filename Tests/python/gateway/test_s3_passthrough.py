"""S3 pass-through: the gateway streams S3 requests (recognised by SigV4, presigned query,
virtual host or anonymous path-style) to storage's HTTP face without buffering them.

The upstream is a small Python HTTP server in this process (it records what arrived and can
read slowly); the gateway is the built binary (NIMBUS_BIN) with no identity behind it — S3
requests never touch identity (storage verifies SigV4 itself). The gateway's memory is read
from /proc while 2 GiB go through."""
import http.client
import json
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("NIMBUS_BIN", ROOT / ".build" / "debug"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIMBUS_")}
    env.update({"NIMBUS_PRINCIPAL_KEY": "s3-passthrough-principal-key-0123456789abcdef", "NIMBUS_LOG_FORMAT": "json"})
    env.update(extra)
    return env

SIGV4 = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/us-east-1/s3/aws4_request, "
         "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=00")


class Upstream:
    """Counts body bytes per request (reading `read_size` at a time, sleeping `delay` between
    reads) and answers with what it saw as JSON."""

    def __init__(self):
        self.read_size = 1 << 20
        self.delay = 0.0
        self.received = 0
        self.seen = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                total = 0
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        left = size
                        while left:
                            got = len(self.rfile.read(min(left, upstream.read_size)))
                            left -= got
                            total += got
                            upstream.received += got
                            if upstream.delay:
                                time.sleep(upstream.delay)
                        self.rfile.readline()
                else:
                    left = int(self.headers.get("content-length", "0"))
                    while left:
                        chunk = self.rfile.read(min(left, upstream.read_size))
                        if not chunk:
                            break
                        left -= len(chunk)
                        total += len(chunk)
                        upstream.received += len(chunk)
                        if upstream.delay:
                            time.sleep(upstream.delay)
                seen = {"method": self.command, "path": self.path, "bytes": total,
                        "headers": {k.lower(): v for k, v in self.headers.items()}}
                upstream.seen.append(seen)
                body = json.dumps(seen).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.send_header("connection", "keep-alive")
                self.end_headers()
                if self.command != "HEAD":
                    try:
                        self.wfile.write(body)
                    except BrokenPipeError:
                        pass  # the slow-upload test walks away mid-request

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def upstream():
    server = Upstream()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(upstream, tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("s3gw") / "gateway.log", "w")
    env = base_env(NIMBUS_GATEWAY_STORAGE_HTTP=f"127.0.0.1:{upstream.port}",
                   NIMBUS_GATEWAY_S3_DOMAIN="s3.nimbus.test",
                   NIMBUS_IDENTITY_ENDPOINTS=f"127.0.0.1:{free_port()}",
                   NIMBUS_COMPUTE_ENDPOINTS=f"127.0.0.1:{free_port()}",
                   NIMBUS_GATEWAY_AUTH_LEASE="false")
    process = subprocess.Popen([str(BIN / "nimbus-gateway"), "--listen", f"127.0.0.1:{port}"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while True:
        assert process.poll() is None, "gateway exited"
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        assert time.time() < deadline, "gateway did not start"
        time.sleep(0.1)
    process.port = port
    yield process
    process.terminate()
    process.wait(timeout=15)
    log.close()


def rss_bytes(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_signed_request_passes_through_with_host_and_request_id(gateway, upstream):
    response = requests.put(f"http://127.0.0.1:{gateway.port}/photos/cat.jpg?partNumber=1", data=b"meow",
                            headers={"authorization": SIGV4, "x-amz-date": "20261207T000000Z",
                                     "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "host": "photos.example:9000",
                                     "x-request-id": "req-s3-1", "connection": "keep-alive, x-drop", "x-drop": "1"})
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["path"] == "/photos/cat.jpg?partNumber=1" and seen["bytes"] == 4
    headers = seen["headers"]
    assert headers["host"] == "photos.example:9000"                    # SigV4 signs it
    assert headers["x-forwarded-host"] == "photos.example:9000"
    assert headers["authorization"] == SIGV4
    assert headers["x-request-id"] == "req-s3-1"
    assert "x-drop" not in headers                                      # named in Connection
    assert response.headers["x-request-id"] == "req-s3-1"


def test_presigned_virtual_host_and_anonymous_requests_pass_rest_does_not(gateway, upstream):
    base = f"http://127.0.0.1:{gateway.port}"
    presigned = requests.get(f"{base}/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a")
    assert presigned.status_code == 200 and presigned.json()["path"].startswith("/b/k?")
    virtual = requests.get(f"{base}/k.txt", headers={"host": "photos.s3.nimbus.test"})
    assert virtual.status_code == 200 and virtual.json()["headers"]["host"] == "photos.s3.nimbus.test"
    anonymous = requests.get(f"{base}/public-bucket/readme.txt")
    assert anonymous.status_code == 200 and anonymous.json()["path"] == "/public-bucket/readme.txt"
    head = requests.head(f"{base}/public-bucket/readme.txt")
    assert head.status_code == 200 and int(head.headers["content-length"]) > 0 and head.content == b""
    # The gateway's own: REST (a problem, not an S3 answer) and health.
    before = len(upstream.seen)
    rest = requests.get(f"{base}/v1/users/x")
    assert rest.headers["content-type"].startswith("application/problem+json"), rest.text
    assert requests.get(f"{base}/healthz").text == "ok\n"
    assert len(upstream.seen) == before


def test_two_gib_stream_through_with_bounded_gateway_memory(gateway, upstream):
    """2 GiB up through the gateway (chunked, never buffered there): its RSS grows < 64 MiB."""
    total = 2 << 30
    piece = b"\x5a" * (1 << 20)
    baseline = rss_bytes(gateway.pid)
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes(gateway.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    upstream.read_size = 1 << 20
    upstream.delay = 0.0
    started = time.time()
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=120)

    def body():
        for _ in range(total // len(piece)):
            yield piece

    connection.request("PUT", "/big-bucket/two-gib.bin", body=body(),
                       headers={"authorization": SIGV4, "x-amz-content-sha256": "UNSIGNED-PAYLOAD"},
                       encode_chunked=True)
    response = connection.getresponse()
    seen = json.loads(response.read())
    elapsed = time.time() - started
    done.set()
    sampler.join()
    assert response.status == 200
    assert seen["bytes"] == total
    growth = peak[0] - baseline
    print(f"2 GiB through the gateway in {elapsed:.1f}s; RSS {baseline >> 20} MiB -> peak {peak[0] >> 20} MiB")
    assert growth < 64 << 20, f"gateway RSS grew by {growth >> 20} MiB"


def test_slow_upstream_slows_the_sender(gateway, upstream):
    """An upstream reading ~3 MB/s holds the client back: what the client managed to send stays
    within a bounded distance of what the upstream read (socket buffers of two hops plus the
    gateway's ~1 MiB), and the gateway's memory does not grow with it."""
    upstream.read_size = 64 << 10
    upstream.delay = 0.02
    baseline = rss_bytes(gateway.pid)
    before = upstream.received
    sock = socket.create_connection(("127.0.0.1", gateway.port))
    total = 512 << 20
    sock.sendall((f"PUT /slow-bucket/blob HTTP/1.1\r\nHost: gw\r\nAuthorization: {SIGV4}\r\n"
                  f"Content-Length: {total}\r\n\r\n").encode())
    sock.setblocking(False)
    piece = b"\0" * (256 << 10)
    sent = 0
    deadline = time.time() + 4
    while time.time() < deadline:
        try:
            sent += sock.send(piece)
        except BlockingIOError:
            time.sleep(0.005)
    read = upstream.received - before
    gap = sent - read
    growth = rss_bytes(gateway.pid) - baseline
    print(f"slow upstream: client sent {sent >> 20} MiB, upstream read {read >> 20} MiB in 4 s")
    sock.close()
    assert read > 0
    assert sent < 128 << 20, f"the client pushed {sent >> 20} MiB into a 3 MB/s upstream"
    assert gap < 48 << 20, f"{gap >> 20} MiB sent but not read upstream"
    assert growth < 32 << 20, f"gateway RSS grew by {growth >> 20} MiB"
    upstream.delay = 0.0
    upstream.read_size = 1 << 20


def curl_exchange(port, path, *args, http="--http1.1"):
    """(status, content-type, body) as curl sees them over the given protocol."""
    result = subprocess.run(["curl", "-s", http, "-o", "-", "-w", "\n%{http_code}|%{content_type}|%{http_version}",
                             "-H", "x-request-id: same-request-id", *args, f"http://127.0.0.1:{port}{path}"],
                            capture_output=True, text=True, timeout=20)
    body, _, tail = result.stdout.rpartition("\n")
    status, content_type, version = tail.split("|")
    return int(status), content_type, body, version


@pytest.mark.parametrize("path, args", [
    ("/v1/openapi.json", []),
    ("/v1/instances", []),                                   # no key: a problem
    ("/v1/instances", ["-X", "POST", "-H", "content-type: application/json", "-d", "{not json"]),
    ("/v1/nope", []),
    ("/healthz", []),
])
def test_rest_over_h2c_answers_like_rest_over_http1(gateway, path, args):
    """Non-gRPC HTTP/2 requests reach the REST face (they answered 405 once)."""
    over_h1 = curl_exchange(gateway.port, path, *args)
    over_h2 = curl_exchange(gateway.port, path, *args, http="--http2-prior-knowledge")
    assert over_h1[3] == "1.1" and over_h2[3] == "2"
    assert over_h2[:3] == over_h1[:3]
    assert over_h1[0] != 405
