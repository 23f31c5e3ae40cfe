"""Malformed HTTP/2 requests (RFC 9113 §8) are refused stream by stream: RST_STREAM with
PROTOCOL_ERROR for the offending stream, the handler never runs, and the connection keeps
serving the next request. Sent with the `h2` library's outbound validation switched off."""
import struct

import h2.config
import h2.connection
import h2.events
import pytest

from test_http2_raw import frame
from wire_server import start_server, stop_server

SAY = "/nimbus.testing.v1.Echo/Say"
PROTOCOL_ERROR = 1


class RawClient:
    def __init__(self, port):
        import socket
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                           validate_outbound_headers=False, normalize_outbound_headers=False,
                                           validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def send(self, headers, body=None, trailers=None, end_headers_stream=False):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, headers, end_stream=end_headers_stream or (body is None and trailers is None))
        if body is not None:
            self.conn.send_data(sid, body, end_stream=trailers is None)
        if trailers is not None:
            self.conn.send_headers(sid, trailers, end_stream=True)
        self.flush()
        return sid

    def until_done(self, sid):
        import socket
        events = []
        while True:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return events
            if not data:
                return events
            events += self.conn.receive_data(data)
            self.flush()
            if any(isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)) and e.stream_id == sid for e in events):
                return events

    def close(self):
        self.sock.close()


def base(path=SAY):
    return [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "localhost")]


GRPC = [("content-type", "application/grpc"), ("te", "trailers")]


@pytest.fixture(scope="module")
def server(echo_server_binary, pki, tmp_path_factory):
    running = start_server(echo_server_binary, "h2c", pki, tmp_path_factory.mktemp("malformed"))
    yield running
    stop_server(running)


def message(stubs, text="ok"):
    pb2, _ = stubs
    return frame(pb2.EchoRequest(text=text).SerializeToString())


MALFORMED = {
    "uppercase name": base() + GRPC + [("X-Upper", "v")],
    "space in name": base() + GRPC + [("x bad", "v")],
    "empty name": base() + GRPC + [("", "v")],
    "newline in value": base() + GRPC + [("x-v", "a\nb")],
    "nul in value": base() + GRPC + [("x-v", "a\x00b")],
    "leading space in value": base() + GRPC + [("x-v", " a")],
    "trailing tab in value": base() + GRPC + [("x-v", "a\t")],
    "unknown pseudo-header": base() + [(":foo", "x")] + GRPC,
    "pseudo-header after a regular one": [(":method", "POST"), (":scheme", "http"), (":authority", "localhost")]
        + GRPC + [(":path", SAY)],
    "duplicate :path": base() + [(":path", SAY)] + GRPC,
    "missing :path": [(":method", "POST"), (":scheme", "http"), (":authority", "localhost")] + GRPC,
    "missing :method": [(":scheme", "http"), (":path", SAY), (":authority", "localhost")] + GRPC,
    "missing :scheme": [(":method", "POST"), (":path", SAY), (":authority", "localhost")] + GRPC,
    "empty :path": base("") + GRPC,
    "response pseudo-header": base() + [(":status", "200")] + GRPC,
    "connection header": base() + GRPC + [("connection", "keep-alive")],
    "keep-alive header": base() + GRPC + [("keep-alive", "5")],
    "transfer-encoding header": base() + GRPC + [("transfer-encoding", "chunked")],
    "upgrade header": base() + GRPC + [("upgrade", "h2c")],
    "te other than trailers": base() + [("content-type", "application/grpc"), ("te", "gzip")],
    "malformed content-length": base() + GRPC + [("content-length", "12x")],
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_request_is_reset_and_the_connection_lives(server, stubs, case):
    client = RawClient(server.port)
    sid = client.send(MALFORMED[case], body=message(stubs, "must not run"))
    events = client.until_done(sid)
    resets = [e for e in events if isinstance(e, h2.events.StreamReset) and e.stream_id == sid]
    assert resets and resets[0].error_code == PROTOCOL_ERROR, f"{case}: {events}"
    assert not [e for e in events if isinstance(e, h2.events.ResponseReceived) and e.stream_id == sid]
    good = client.send(base() + GRPC, body=message(stubs))
    done = client.until_done(good)
    trailers = [dict(e.headers) for e in done if isinstance(e, h2.events.TrailersReceived) and e.stream_id == good]
    assert trailers and trailers[0]["grpc-status"] == "0", f"{case}: the next request failed: {done}"
    client.close()


@pytest.mark.parametrize("declared", [5, 100])
def test_content_length_that_does_not_match_the_body_is_reset(server, stubs, declared):
    client = RawClient(server.port)
    body = message(stubs)
    assert len(body) != declared
    sid = client.send(base() + GRPC + [("content-length", str(declared))], body=body)
    resets = [e for e in client.until_done(sid) if isinstance(e, h2.events.StreamReset) and e.stream_id == sid]
    assert resets and resets[0].error_code == PROTOCOL_ERROR
    client.close()


def test_matching_content_length_and_case_insensitive_te_are_fine(server, stubs):
    client = RawClient(server.port)
    body = message(stubs, "fine")
    sid = client.send(base() + [("content-type", "application/grpc"), ("te", "Trailers"),
                                ("content-length", str(len(body)))], body=body)
    events = client.until_done(sid)
    trailers = [dict(e.headers) for e in events if isinstance(e, h2.events.TrailersReceived) and e.stream_id == sid]
    assert trailers and trailers[0]["grpc-status"] == "0", events
    client.close()


def test_pseudo_header_in_request_trailers_is_reset(server, stubs):
    client = RawClient(server.port)
    sid = client.send(base() + GRPC, body=message(stubs), trailers=[(":path", SAY)])
    resets = [e for e in client.until_done(sid) if isinstance(e, h2.events.StreamReset) and e.stream_id == sid]
    assert resets and resets[0].error_code == PROTOCOL_ERROR
    client.close()


def test_empty_grpc_timeout_is_refused_on_a_fresh_server(echo_server_binary, pki, tmp_path, stubs):
    """The first request a loop sees may carry an empty grpc-timeout: refused (INTERNAL), never
    taken for a cached deadline."""
    running = start_server(echo_server_binary, "h2c", pki, tmp_path)
    try:
        client = RawClient(running.port)
        sid = client.send(base() + GRPC + [("grpc-timeout", "")], body=message(stubs))
        events = client.until_done(sid)
        head = {}
        for e in events:
            if isinstance(e, (h2.events.ResponseReceived, h2.events.TrailersReceived)) and e.stream_id == sid:
                head.update(dict(e.headers))
        assert head.get("grpc-status") == "13", events
        client.close()
    finally:
        stop_server(running)
