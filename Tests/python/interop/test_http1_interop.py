"""HTTP/1.1 on the gRPC port: curl, python's http.client, and raw malformed requests."""
import socket
import ssl
import subprocess

import pytest


def curl(server, path, *extra, http="--http1.1"):
    scheme = "https" if server.mode != "h2c" else "http"
    args = ["curl", "-sS", http, "-o", "-", "-w", "\n%{http_code}", *extra]
    if server.mode != "h2c":
        args += ["--cacert", str(server.pki / "ca.pem"), "--resolve", f"localhost:{server.port}:127.0.0.1"]
        url = f"{scheme}://localhost:{server.port}{path}"
    else:
        url = f"{scheme}://127.0.0.1:{server.port}{path}"
    result = subprocess.run(args + [url], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    body, _, code = result.stdout.rpartition("\n")
    return int(code), body


def test_healthz_readyz_and_metrics_with_curl(server, stubs):
    assert curl(server, "/healthz") == (200, "ok\n")
    assert curl(server, "/readyz") == (200, "ready\n")
    # Make at least one call so the per-method series exist.
    pb2, pb2_grpc = stubs
    with server.channel() as channel:
        pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="m"), timeout=5)
    code, body = curl(server, "/metrics")
    assert code == 200
    assert 'grpc_server_handled_total{grpc_service="nimbus.testing.v1.Echo",grpc_method="Say",grpc_code="OK"}' in body
    assert "grpc_server_handling_seconds_bucket" in body
    assert curl(server, "/nope")[0] == 404
    assert curl(server, "/healthz", "-X", "POST")[0] == 405


def test_plain_http2_requests_reach_the_http_handler(server, stubs):
    """Non-gRPC HTTP/2 requests (h2c prior knowledge, or TLS with ALPN h2) are served like HTTP/1.1."""
    # One call of our own, so the per-method series exist whichever test ran first.
    pb2, pb2_grpc = stubs
    with server.channel() as channel:
        pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="m"), timeout=5)
    http2 = "--http2-prior-knowledge" if server.mode == "h2c" else "--http2"
    assert curl(server, "/healthz", http=http2) == (200, "ok\n")
    assert curl(server, "/readyz", http=http2) == (200, "ready\n")
    code, body = curl(server, "/metrics", http=http2)
    assert code == 200 and "grpc_server_handled_total" in body
    assert curl(server, "/nope", http=http2)[0] == 404
    assert curl(server, "/healthz", "-X", "POST", http=http2)[0] == 405


def test_plain_http2_body_over_the_limit_gets_413(server, tmp_path):
    """An HTTP/2 body over the HTTP/1.1 limit (8 MiB) gets 413, then RST_STREAM(NO_ERROR)
    stops the upload (curl reports that as a stream error, so nghttp drives it)."""
    if server.mode != "h2c":
        pytest.skip("nghttp is driven over h2c only")
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (9 << 20))
    result = subprocess.run(["nghttp", "-v", "-d", str(big), f"http://127.0.0.1:{server.port}/upload"],
                            capture_output=True, text=True, timeout=20)
    assert ":status: 413" in result.stdout, result.stdout[-2000:]


def raw_exchange(server, payload: bytes) -> bytes:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    if server.mode != "h2c":
        context = ssl.create_default_context(cafile=str(server.pki / "ca.pem"))
        context.set_alpn_protocols(["http/1.1"])
        sock = context.wrap_socket(sock, server_hostname="localhost")
    with sock:
        sock.sendall(payload)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


def test_keep_alive_and_pipelining(server):
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    closing = b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    reply = raw_exchange(server, request * 3 + closing)
    assert reply.count(b"HTTP/1.1 200 OK") == 4
    assert reply.endswith(b"ready\n")


def test_chunked_request_body_is_accepted(server):
    body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n"
    reply = raw_exchange(server, b"POST /nope HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body)
    assert reply.startswith(b"HTTP/1.1 404 ")


@pytest.mark.parametrize("request_bytes, status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\n\r\n", 400),                                     # no Host
    (b"GET /healthz HTTP/1.1\nHost: x\n\n", 400),                                # bare LF
    (b"GET /healthz HTTP/2.5\r\nHost: x\r\n\r\n", 505),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),               # obs-fold
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n", 431),
    (b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
])
def test_malformed_requests_get_clear_4xx(server, request_bytes, status):
    reply = raw_exchange(server, request_bytes)
    assert reply.startswith(f"HTTP/1.1 {status} ".encode()), reply[:200]
    assert b"connection: close" in reply


def test_wrong_content_type_gets_415_over_http2(server):
    if server.mode != "h2c":
        pytest.skip("nghttp is driven over h2c only")
    result = subprocess.run(
        ["nghttp", "-v", "-H", ":method: POST", "-H", "content-type: text/plain",
         f"http://127.0.0.1:{server.port}/nimbus.testing.v1.Echo/Say"],
        capture_output=True, text=True, timeout=10)
    assert ":status: 415" in result.stdout
