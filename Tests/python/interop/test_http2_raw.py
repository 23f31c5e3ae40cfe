"""The server's HTTP/2 behaviour seen frame by frame, with the `h2` library as the client:
415 for a non-gRPC content type, Trailers-Only and RST_STREAM(NO_ERROR) for early answers,
messages split across DATA frames, grpc-timeout units, flow-control backpressure, keepalive
PINGs, idle timeout and GOAWAY on shutdown."""
import socket
import struct
import urllib.parse
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest

from wire_server import start_server, stop_server

SAY = "/nimbus.testing.v1.Echo/Say"
CHAT = "/nimbus.wiretest.v1.Bytes/Chat"


def frame(message: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(message)) + message


class Client:
    def __init__(self, port, window=None, auto_ack=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        if window is not None:
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.auto_ack = auto_ack
        self.closed = False
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def headers(self, path, content_type="application/grpc", extra=(), end_stream=False):
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream_id, [(":method", "POST"), (":scheme", "http"), (":path", path),
                                           (":authority", "localhost"), ("content-type", content_type),
                                           ("te", "trailers"), *extra], end_stream=end_stream)
        self.flush()
        return stream_id

    def data(self, stream_id, payload, end_stream=False):
        self.conn.send_data(stream_id, payload, end_stream=end_stream)
        self.flush()

    def events(self, until, timeout=5.0):
        """Collects events until `until(events)` is true (or the timeout/close)."""
        collected = []
        deadline = time.monotonic() + timeout
        while not until(collected) and time.monotonic() < deadline and not self.closed:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
                break
            collected += self.conn.receive_data(data)
            if self.auto_ack:
                self.flush()
        return collected

    def close(self):
        self.sock.close()


def ended(stream_id):
    return lambda events: any(isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)) and e.stream_id == stream_id
                              for e in events)


def headers_of(events, stream_id):
    out = {}
    for e in events:
        if isinstance(e, (h2.events.ResponseReceived, h2.events.TrailersReceived)) and e.stream_id == stream_id:
            out.update(dict(e.headers))
    return out


@pytest.fixture(scope="module")
def raw_server(echo_server_binary, pki, tmp_path_factory):
    running = start_server(echo_server_binary, "h2c", pki, tmp_path_factory.mktemp("raw"),
                           extra=["--window", "65535", "--keepalive-ms", "300", "--keepalive-timeout-ms", "400",
                                  "--idle-timeout-ms", "1500"])
    yield running
    stop_server(running)


def test_non_grpc_content_type_gets_415(raw_server):
    client = Client(raw_server.port)
    sid = client.headers(SAY, content_type="application/json", end_stream=True)
    events = client.events(ended(sid))
    assert headers_of(events, sid)[":status"] == "415"
    client.close()


def test_unknown_method_is_trailers_only_then_rst_no_error(raw_server):
    client = Client(raw_server.port)
    sid = client.headers("/nimbus.testing.v1.Echo/Nope")  # request not ended: server answers first
    events = client.events(lambda ev: any(isinstance(e, h2.events.StreamReset) for e in ev))
    responses = [e for e in events if isinstance(e, h2.events.ResponseReceived)]
    assert len(responses) == 1 and responses[0].stream_ended is not None  # HEADERS with END_STREAM
    head = dict(responses[0].headers)
    assert (head[":status"], head["grpc-status"]) == ("200", "12")
    resets = [e for e in events if isinstance(e, h2.events.StreamReset)]
    assert resets[0].error_code == 0  # RST_STREAM(NO_ERROR) after trailers that precede our end
    client.close()


def test_unsupported_grpc_encoding_is_unimplemented_with_accepted_list(raw_server):
    client = Client(raw_server.port)
    sid = client.headers(SAY, extra=[("grpc-encoding", "snappy")], end_stream=True)
    head = headers_of(client.events(ended(sid)), sid)
    assert (head[":status"], head["grpc-status"]) == ("200", "12")
    assert "snappy" in urllib.parse.unquote(head["grpc-message"])
    assert set(head["grpc-accept-encoding"].split(",")) == {"gzip", "deflate", "identity"}
    client.close()


def test_over_limit_prefix_is_refused_before_the_body(raw_server):
    client = Client(raw_server.port)
    sid = client.headers(SAY)
    client.data(sid, b"\x00" + struct.pack(">I", 64 * 1024 * 1024))  # announces 64 MiB, sends none
    events = client.events(lambda ev: any(isinstance(e, h2.events.StreamReset) for e in ev))
    assert headers_of(events, sid)["grpc-status"] == "8"
    client.close()


def test_message_split_into_one_byte_data_frames(raw_server, stubs):
    pb2, _ = stubs
    client = Client(raw_server.port)
    sid = client.headers(SAY)
    wire = frame(pb2.EchoRequest(text="split into many frames").SerializeToString())
    for i in range(len(wire)):
        client.data(sid, wire[i:i + 1], end_stream=(i == len(wire) - 1))
    events = client.events(ended(sid))
    body = b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived))
    assert headers_of(events, sid)["grpc-status"] == "0"
    assert pb2.EchoResponse.FromString(body[5:]).text == "split into many frames"
    client.close()


@pytest.mark.parametrize("timeout", ["1H", "2M", "30S", "900m", "900000u", "99999999n", "99999999S"])
def test_grpc_timeout_units_are_accepted(raw_server, stubs, timeout):
    pb2, _ = stubs
    client = Client(raw_server.port)
    sid = client.headers(SAY, extra=[("grpc-timeout", timeout)])
    client.data(sid, frame(pb2.EchoRequest(text="t").SerializeToString()), end_stream=True)
    assert headers_of(client.events(ended(sid)), sid)["grpc-status"] == "0"
    client.close()


@pytest.mark.parametrize("timeout", ["50m", "50000u", "50000000n"])
def test_grpc_timeout_is_enforced(raw_server, stubs, timeout):
    pb2, _ = stubs
    client = Client(raw_server.port)
    sid = client.headers(SAY, extra=[("grpc-timeout", timeout)])
    client.data(sid, frame(pb2.EchoRequest(text="slow", delay_ms=3000).SerializeToString()), end_stream=True)
    started = time.monotonic()
    head = headers_of(client.events(ended(sid)), sid)
    assert head["grpc-status"] == "4"
    assert time.monotonic() - started < 1.5
    client.close()


@pytest.mark.parametrize("timeout", ["", "S", "10", "10s", "-5S", "1.5S", "123456789S", "9999999999S", "10 S"])
def test_malformed_grpc_timeout_is_rejected(raw_server, stubs, timeout):
    """A deadline the server cannot read is refused (Trailers-Only INTERNAL, as grpc-go does),
    not silently dropped; the handler never runs."""
    pb2, _ = stubs
    client = Client(raw_server.port)
    sid = client.headers(SAY, extra=[("grpc-timeout", timeout)])
    client.data(sid, frame(pb2.EchoRequest(text="t", delay_ms=3000).SerializeToString()), end_stream=True)
    started = time.monotonic()
    head = headers_of(client.events(ended(sid)), sid)
    assert head["grpc-status"] == "13"
    assert "grpc-timeout" in urllib.parse.unquote(head.get("grpc-message", ""))
    assert time.monotonic() - started < 1.5
    client.close()


def test_backpressure_when_the_client_stops_reading(raw_server):
    """The client grants no response window: the server's writer blocks, the handler stops
    reading, and the request window stays closed — until the client reads again."""
    client = Client(raw_server.port, window=0)
    client.events(lambda ev: any(isinstance(e, h2.events.SettingsAcknowledged) for e in ev), timeout=2)
    sid = client.headers(CHAT)
    message = frame(b"\x42" * 16000)
    sent = 0
    stalled_at = None
    for _ in range(400):  # up to 6.4 MB offered
        window = client.conn.local_flow_control_window(sid)
        if window < len(message):
            client.events(lambda ev: False, timeout=0.3)  # give the server a chance to open it
            if client.conn.local_flow_control_window(sid) < len(message):
                stalled_at = sent
                break
        client.data(sid, message)
        sent += len(message)
    assert stalled_at is not None, "the server kept granting window although nobody read its responses"
    assert stalled_at < 2 * 1024 * 1024
    # Now read: grant window and drain; every message comes back.
    client.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
    client.conn.increment_flow_control_window(16 << 20)
    client.flush()
    client.conn.end_stream(sid)
    client.flush()
    received = 0

    def done(events):
        nonlocal received
        for e in events[done.seen:]:
            if isinstance(e, h2.events.DataReceived):
                received += len(e.data)
                client.conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
        done.seen = len(events)
        client.flush()
        return any(isinstance(e, h2.events.StreamEnded) and e.stream_id == sid for e in events)

    done.seen = 0
    client.events(done, timeout=20)
    assert received == stalled_at
    client.close()


def test_keepalive_ping_is_sent_and_an_unanswered_one_closes(raw_server):
    answering = Client(raw_server.port)
    answering.headers(CHAT)  # an open stream: not idle, so only keepalive could end it
    events = answering.events(lambda ev: any(isinstance(e, h2.events.PingReceived) for e in ev), timeout=3)
    assert any(isinstance(e, h2.events.PingReceived) for e in events)
    silent = Client(raw_server.port, auto_ack=False)
    silent.headers(CHAT)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not silent.closed:  # serve both peers in turn
        silent.events(lambda ev: False, timeout=0.05)
        answering.events(lambda ev: False, timeout=0.05)
    assert silent.closed, "a peer that never acknowledges PINGs must be dropped"
    answering.events(lambda ev: False, timeout=0.5)
    assert not answering.closed, "a peer that acknowledges PINGs stays connected"
    answering.close()


def test_idle_connection_gets_goaway(raw_server):
    client = Client(raw_server.port)
    events = client.events(lambda ev: any(isinstance(e, h2.events.ConnectionTerminated) for e in ev), timeout=5)
    terminated = [e for e in events if isinstance(e, h2.events.ConnectionTerminated)]
    assert terminated and terminated[0].error_code == 0
    client.close()


def test_shutdown_sends_goaway(echo_server_binary, pki, tmp_path):
    running = start_server(echo_server_binary, "h2c", pki, tmp_path)
    try:
        client = Client(running.port)
        client.events(lambda ev: any(isinstance(e, h2.events.SettingsAcknowledged) for e in ev), timeout=2)
        running.process.terminate()
        events = client.events(lambda ev: any(isinstance(e, h2.events.ConnectionTerminated) for e in ev), timeout=5)
        assert any(isinstance(e, h2.events.ConnectionTerminated) and e.error_code == 0 for e in events)
        client.close()
        assert running.process.wait(timeout=10) == 0
    finally:
        if running.process.poll() is None:
            running.process.kill()


@pytest.mark.parametrize("threads", ["1", "2"])
def test_peers_vanishing_under_running_handlers_leave_the_server_healthy(echo_server_binary, pki, tmp_path, stubs, threads):
    """Connections end (TCP reset, GOAWAY, RST_STREAM of every call) while their unary and
    streaming handlers still run; the handlers then complete against closed streams. The
    server must not crash (it once did: an unowned link outlived its connection) and must go
    on serving, and SIGTERM must still stop it cleanly."""
    pb2, _ = stubs
    running = start_server(echo_server_binary, "h2c", pki, tmp_path, extra=["--threads", threads])
    try:
        slow = frame(pb2.EchoRequest(text="late", delay_ms=100).SerializeToString())
        for round_ in range(36):
            client = Client(running.port)
            calls = []
            for _ in range(8):
                sid = client.headers(SAY)
                client.data(sid, slow, end_stream=True)
                calls.append(sid)
            chat = client.headers(CHAT)
            client.data(chat, frame(b"x" * 100))
            calls.append(chat)
            client.events(lambda ev: False, timeout=0.01)
            how = round_ % 3
            if how == 0:  # TCP RST
                client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif how == 1:
                client.conn.close_connection()
                client.flush()
            else:
                for sid in calls:
                    client.conn.reset_stream(sid, error_code=8)
                client.flush()
            client.close()
        time.sleep(0.5)  # every handler has finished by now, after its peer went away
        assert running.process.poll() is None, "the server died"
        client = Client(running.port)
        sid = client.headers(SAY)
        client.data(sid, frame(pb2.EchoRequest(text="alive").SerializeToString()), end_stream=True)
        events = client.events(ended(sid))
        assert headers_of(events, sid)["grpc-status"] == "0"
        client.close()
    finally:
        stop_server(running)
    assert running.process.returncode == 0


def test_handlers_on_the_global_pool(echo_server_binary, pki, tmp_path, stubs):
    """`runHandlersOnEventLoop = false`: unary calls (with and without suspending), deadlines
    and a streaming call still work when handlers run on the pool and hop back."""
    pb2, _ = stubs
    running = start_server(echo_server_binary, "h2c", pki, tmp_path, extra=["--handlers-on-pool"])
    try:
        client = Client(running.port)
        quick = client.headers(SAY)
        client.data(quick, frame(pb2.EchoRequest(text="pool").SerializeToString()), end_stream=True)
        waiting = client.headers(SAY)
        client.data(waiting, frame(pb2.EchoRequest(text="later", delay_ms=50).SerializeToString()), end_stream=True)
        late = client.headers(SAY, extra=[("grpc-timeout", "100m")])
        client.data(late, frame(pb2.EchoRequest(text="slow", delay_ms=3000).SerializeToString()), end_stream=True)
        chat = client.headers(CHAT)
        client.data(chat, frame(b"abc"))
        client.data(chat, frame(b"defg"), end_stream=True)
        events = client.events(lambda ev: all(ended(s)(ev) for s in (quick, waiting, late, chat)))
        for sid, text in ((quick, "pool"), (waiting, "later")):
            body = b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived) and e.stream_id == sid)
            assert headers_of(events, sid)["grpc-status"] == "0"
            assert pb2.EchoResponse.FromString(body[5:]).text == text
        assert headers_of(events, late)["grpc-status"] == "4"
        chat_body = b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived) and e.stream_id == chat)
        assert headers_of(events, chat)["grpc-status"] == "0"
        assert chat_body == frame(b"abc") + frame(b"defg")
        client.close()
    finally:
        stop_server(running)
