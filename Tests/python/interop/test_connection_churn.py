"""Connections that go away mid-request, many at once: the links between a call, its stream,
session, connection and loop state (the server's remaining unowned references among them) must
hold while handlers are still running for peers that closed, reset or cancelled. An identity
replica once crashed with "unowned reference already destroyed" under this kind of load."""
import random
import socket
import struct
import threading
import time

import h2.config
import h2.connection
import h2.errors

from wire_server import start_server, stop_server

SAY = "/nimbus.testing.v1.Echo/Say"
CHAT = "/nimbus.testing.v1.Echo/Chat"


def frame(message: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(message)) + message


def reset_on_close(sock):
    # SO_LINGER 0: close() sends a TCP RST instead of a FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def h2_connection(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def start_call(conn, path, body, end_stream=True, timeout=None):
    sid = conn.get_next_available_stream_id()
    extra = [("grpc-timeout", timeout)] if timeout else []
    conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "localhost"),
                            ("content-type", "application/grpc"), ("te", "trailers"), *extra])
    conn.send_data(sid, frame(body), end_stream=end_stream)
    return sid


def churn_once(port, pb2, rng):
    """One abrupt client: several calls whose handlers are still waiting when it leaves."""
    slow = pb2.EchoRequest(text="slow", delay_ms=rng.choice([0, 1, 5, 20])).SerializeToString()
    kind = rng.randrange(6)
    if kind == 5:
        # HTTP/1.1: half a request, then a reset.
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"POST /nimbus.testing.v1.Echo/Say HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nabc")
        reset_on_close(sock)
        sock.close()
        return
    sock, conn = h2_connection(port)
    try:
        sids = [start_call(conn, SAY, slow, timeout=rng.choice([None, "3m", "50m"])) for _ in range(rng.randint(1, 8))]
        if kind == 1:
            for sid in sids[::2]:
                conn.reset_stream(sid, error_code=h2.errors.ErrorCodes.CANCEL)
        elif kind == 2:
            sids.append(start_call(conn, CHAT, slow, end_stream=False))
        elif kind == 3:
            conn.close_connection()
        sock.sendall(conn.data_to_send())
        if kind == 4:
            time.sleep(rng.choice([0, 0.001, 0.01]))
            sock.recv(65536)
        if rng.random() < 0.5:
            reset_on_close(sock)
    except OSError:
        pass  # the server may already have answered and gone away; that is allowed
    finally:
        sock.close()


def test_many_connections_closing_resetting_and_cancelling_mid_request(echo_server_binary, pki, tmp_path_factory, stubs):
    pb2, pb2_grpc = stubs
    server = start_server(echo_server_binary, "h2c", pki, tmp_path_factory.mktemp("churn"), extra=["--threads", "2"])
    try:
        failures = []

        def worker(seed):
            rng = random.Random(seed)
            try:
                for _ in range(300):
                    churn_once(server.port, pb2, rng)
            except Exception as error:  # noqa: BLE001 - reported below
                failures.append(repr(error))

        def well_behaved():
            channel = server.channel()
            stub = pb2_grpc.EchoStub(channel)
            try:
                for i in range(100):
                    assert stub.Say(pb2.EchoRequest(text=f"ok {i}"), timeout=10).text == f"ok {i}"
            except Exception as error:  # noqa: BLE001 - reported below
                failures.append(f"well-behaved client: {error!r}")
            finally:
                channel.close()

        threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
        threads.append(threading.Thread(target=well_behaved))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
        assert not any(thread.is_alive() for thread in threads), "the churn did not finish within 180 s"
        assert not failures, failures[:5]
        # Handlers of dead connections finish after their peers left; give the slowest ones time.
        time.sleep(0.2)
        assert server.process.poll() is None, f"server died:\n{server.log()[-4000:]}"
        channel = server.channel()
        assert pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="after"), timeout=10).text == "after"
        channel.close()
        log = server.log()
        assert "unowned reference" not in log and "Fatal error" not in log, log[-4000:]
    finally:
        stop_server(server)  # fails the test unless the server exits 0 on SIGTERM
