"""A grpcio Echo server (nimbus.testing.v1.Echo) for the Nimbus client's interop tests.

The Swift tests (Tests/NimbusWireTests/ClientInteropTests.swift) start it with
`.venv/bin/python echo_server.py [--port N] [--tls DIR] [--mtls]` and read one line from stdout:

    READY port=<port> cert=<path or ->

Stubs are generated from Protos/nimbus/testing/v1/echo.proto into a temp dir at start-up, and with
--tls a self-signed certificate for localhost/127.0.0.1 is made with `openssl req` into DIR (kept
when it already exists, so a restarted server presents the same certificate).

Behaviour beyond plain echo (driven by EchoRequest fields and request metadata):
- fail_with_code / fail_with_message: abort with that status.
- delay_ms: wait that long (in slices, watching for cancellation and the deadline).
- initial metadata carries x-server-port (which replica answered);
- request metadata whose key starts with "x-" comes back as initial and trailing metadata;
  "x-time-remaining" (initial metadata) carries the deadline the server saw, in milliseconds.
- text "tag:<name>" marks the call (Expand records "sent <n>" as it goes); Say(text="query:<name>") answers with what the handler of
  that call observed: "cancelled", "deadline", "completed" or "unknown".
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures

import grpc
from grpc_tools import protoc

try:  # grpc_tools ships the well-known types
    import importlib.resources as resources

    WKT_INCLUDE = str(resources.files("grpc_tools") / "_proto")
except Exception:  # pragma: no cover
    WKT_INCLUDE = os.path.join(os.path.dirname(protoc.__file__), "_proto")

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PROTO_ROOT = os.path.join(REPO_ROOT, "Protos")
ECHO_PROTO = "nimbus/testing/v1/echo.proto"


def load_stubs():
    out = tempfile.mkdtemp(prefix="nimbus-echo-stubs-")
    protos = [ECHO_PROTO]
    try:  # echo.proto imports google/api/annotations.proto: from googleapis-common-protos or made here
        import google.api.annotations_pb2  # noqa: F401
    except ImportError:
        protos += ["google/api/annotations.proto", "google/api/http.proto"]
    rc = protoc.main(["protoc", f"-I{PROTO_ROOT}", f"-I{WKT_INCLUDE}", f"--python_out={out}", f"--grpc_python_out={out}",
                      *protos])
    if rc != 0:
        sys.exit(f"echo_server: protoc failed on {protos} (exit {rc})")
    sys.path.insert(0, out)
    from nimbus.testing.v1 import echo_pb2, echo_pb2_grpc  # noqa: E402

    return echo_pb2, echo_pb2_grpc


def make_certificate(directory, name):
    cert = os.path.join(directory, f"{name}.pem")
    key = os.path.join(directory, f"{name}.key")
    if not (os.path.exists(cert) and os.path.exists(key)):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", f"/CN={name}", "-keyout", key, "-out", cert,
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
    return cert, key


# The bound port, sent back as x-server-port so a client can tell replicas apart.
SERVER_PORT = [0]


class Observations:
    """What each tagged call's handler saw, for the query RPC."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_tag = {}

    def record(self, tag, what, quiet=False):
        if tag:
            with self.lock:
                self.by_tag[tag] = what
            if not quiet:
                print(f"OBSERVED {tag} {what}", flush=True)

    def get(self, tag):
        with self.lock:
            return self.by_tag.get(tag, "unknown")


def build_servicer(echo_pb2, echo_pb2_grpc, observations):
    def echo_metadata(context):
        """Sends x-* request metadata back; returns the trailing metadata to set at the end."""
        echoed = [(k, v) for k, v in context.invocation_metadata() if k.startswith("x-")]
        initial = list(echoed)
        remaining = context.time_remaining()
        if remaining is not None:
            initial.append(("x-time-remaining", str(int(remaining * 1000))))
        initial.append(("x-server-port", str(SERVER_PORT[0])))
        context.send_initial_metadata(initial)
        return echoed

    def tag_of(request):
        return request.text[4:] if request.text.startswith("tag:") else None

    def wait(request, context):
        """Waits delay_ms; returns False when the call ended meanwhile (and records why)."""
        end = time.monotonic() + request.delay_ms / 1000.0
        while time.monotonic() < end:
            if not context.is_active():
                remaining = context.time_remaining()
                observations.record(tag_of(request), "deadline" if remaining is not None and remaining <= 0 else "cancelled")
                return False
            time.sleep(0.01)
        return True

    def check_failure(request, context):
        if request.fail_with_code:
            context.abort(_code(request.fail_with_code), request.fail_with_message)

    def compress_if_asked(context):
        """x-compress: gzip|deflate makes the server compress its response messages."""
        wanted = dict(context.invocation_metadata()).get("x-compress")
        if wanted:
            context.set_compression({"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}[wanted])

    class Echo(echo_pb2_grpc.EchoServicer):
        def Say(self, request, context):
            if request.text.startswith("query:"):
                return echo_pb2.EchoResponse(text=observations.get(request.text[6:]))
            compress_if_asked(context)
            trailing = echo_metadata(context)
            check_failure(request, context)
            if request.delay_ms and not wait(request, context):
                return echo_pb2.EchoResponse()
            observations.record(tag_of(request), "completed")
            context.set_trailing_metadata(trailing)
            return echo_pb2.EchoResponse(text=request.text, payload=request.payload)

        def Expand(self, request, context):
            compress_if_asked(context)
            trailing = echo_metadata(context)
            check_failure(request, context)
            for index in range(request.repeat):
                if request.delay_ms and not wait(request, context):
                    return
                yield echo_pb2.EchoResponse(text=request.text, index=index, payload=request.payload)
                # Progress: how far the generator got (flow control holds it back when the client reads slowly).
                observations.record(tag_of(request), f"sent {index + 1}", quiet=True)
            observations.record(tag_of(request), "completed")
            context.set_trailing_metadata(trailing)

        def Collect(self, request_iterator, context):
            trailing = echo_metadata(context)
            texts, size, tag = [], 0, None
            for request in request_iterator:
                check_failure(request, context)
                tag = tag or tag_of(request)
                texts.append(request.text)
                size += len(request.payload)
            observations.record(tag, "completed")
            context.set_trailing_metadata(trailing)
            return echo_pb2.EchoResponse(text=",".join(texts), index=len(texts), payload=size.to_bytes(8, "big"))

        def Chat(self, request_iterator, context):
            trailing = echo_metadata(context)
            tag = None
            try:
                for index, request in enumerate(request_iterator):
                    check_failure(request, context)
                    tag = tag or tag_of(request)
                    if request.delay_ms and not wait(request, context):
                        return
                    yield echo_pb2.EchoResponse(text=request.text, index=index, payload=request.payload)
            except grpc.RpcError:
                pass
            if not context.is_active():
                observations.record(tag, "cancelled")
                return
            observations.record(tag, "completed")
            context.set_trailing_metadata(trailing)

    return Echo()


def _code(value):
    for code in grpc.StatusCode:
        if code.value[0] == value:
            return code
    return grpc.StatusCode.UNKNOWN


def watch_parent():
    """Exits when the process that started us goes away (a killed test run leaves no server)."""
    parent = os.getppid()

    def loop():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=loop, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", metavar="DIR", help="serve TLS with a self-signed certificate made in DIR")
    parser.add_argument("--mtls", action="store_true", help="with --tls: require a client certificate (DIR/client.pem)")
    args = parser.parse_args()

    echo_pb2, echo_pb2_grpc = load_stubs()
    observations = Observations()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64), options=[
        ("grpc.so_reuseport", 1),
        ("grpc.max_receive_message_length", 4 * 1024 * 1024),
        ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ])
    echo_pb2_grpc.add_EchoServicer_to_server(build_servicer(echo_pb2, echo_pb2_grpc, observations), server)

    cert_path = "-"
    address = f"127.0.0.1:{args.port}"
    if args.tls:
        os.makedirs(args.tls, exist_ok=True)
        cert_path, key_path = make_certificate(args.tls, "server")
        with open(cert_path, "rb") as f:
            cert = f.read()
        with open(key_path, "rb") as f:
            key = f.read()
        root = None
        if args.mtls:
            client_cert, _ = make_certificate(args.tls, "client")
            with open(client_cert, "rb") as f:
                root = f.read()
        credentials = grpc.ssl_server_credentials([(key, cert)], root_certificates=root, require_client_auth=args.mtls)
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        sys.exit(f"echo_server: cannot bind {address}")
    SERVER_PORT[0] = port
    watch_parent()
    server.start()
    print(f"READY port={port} cert={cert_path}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
