"""Shared checks for Python benchmark drivers (the shell side is Benchmarks/lib.sh): release
builds only, a round counts only when every request succeeded and the server's own
grpc_server_handled_total{…,grpc_code="OK"} grew by exactly the requests sent."""
import http.client
import re
import socket
import sys
import urllib.request
from pathlib import Path


class VoidRound(Exception):
    """A round whose requests did not all succeed: no ratio may be printed from it."""


def require_release(bin_dir):
    path = Path(bin_dir).resolve()
    if path.name != "release" and not path.name.endswith("-release"):
        sys.exit(f"refusing {path}: benchmarks measure release builds only (swift build -c release)")
    return path


def grpc_ok(address, service, method):
    """OK calls of one method counted by the server at `address` (host:port), from /metrics."""
    text = urllib.request.urlopen(f"http://{address}/metrics", timeout=10).read().decode()
    total = 0
    for line in text.splitlines():
        if (line.startswith("grpc_server_handled_total{") and f'grpc_service="{service}"' in line
                and f'grpc_method="{method}"' in line and 'grpc_code="OK"' in line):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


class OkCounter:
    """`with OkCounter(address, service, method, expected)`: raises VoidRound unless the server
    counted exactly `expected` more OK calls of the method inside the block."""

    def __init__(self, address, service, method, expected):
        self.address, self.service, self.method, self.expected = address, service, method, expected

    def __enter__(self):
        self.before = grpc_ok(self.address, self.service, self.method)
        return self

    def __exit__(self, kind, value, traceback):
        if kind is not None:
            return False
        counted = grpc_ok(self.address, self.service, self.method) - self.before
        if counted != self.expected:
            raise VoidRound(f"{self.service}/{self.method}: the server counted {counted} OK calls for {self.expected} requests")
        return False


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a unix socket (the container engine's API), kept open between requests."""

    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)

    def call(self, method, url, body=None, expect=(200, 201, 204)):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.request(method, url, body=body, headers=headers)
        response = self.getresponse()
        data = response.read()
        if response.status not in expect:
            raise VoidRound(f"{method} {url}: HTTP {response.status}: {data[:300]!r}")
        return data


def parse_h2load(output):
    """(req/s, succeeded, requested) from h2load's summary."""
    rps = re.search(r"finished in [0-9.]+m?s, ([0-9.]+) req/s", output)
    ok = re.search(r"([0-9]+) succeeded", output)
    total = re.search(r"requests: ([0-9]+) total", output)
    return (float(rps.group(1)) if rps else 0.0, int(ok.group(1)) if ok else 0, int(total.group(1)) if total else 0)
