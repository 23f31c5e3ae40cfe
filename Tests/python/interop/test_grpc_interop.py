"""grpcio (written by others) against a running Nimbus server, over h2c and TLS."""
import queue
import threading
import time

import grpc
import pytest

from wire_server import MAX_MESSAGE

BYTES = "/nimbus.wiretest.v1.Bytes/"


def raw_unary(channel, path):
    return channel.unary_unary(path, request_serializer=None, response_deserializer=None)


def cancellations(channel):
    return int(raw_unary(channel, BYTES + "Cancellations")(b"", timeout=5))


@pytest.fixture
def echo(server, stubs):
    pb2, pb2_grpc = stubs
    with server.channel() as channel:
        yield pb2, pb2_grpc.EchoStub(channel), channel


def test_unary(echo):
    pb2, stub, _ = echo
    response = stub.Say(pb2.EchoRequest(text="hello, nimbus"), timeout=5)
    assert response.text == "hello, nimbus"


def test_server_streaming(echo):
    pb2, stub, _ = echo
    responses = list(stub.Expand(pb2.EchoRequest(text="x", repeat=50), timeout=5))
    assert [r.index for r in responses] == list(range(50))
    assert all(r.text == "x" for r in responses)


def test_client_streaming(echo):
    pb2, stub, _ = echo
    words = ["one", "two", "three", "four"]
    response = stub.Collect(iter(pb2.EchoRequest(text=w) for w in words), timeout=5)
    assert response.text == "one two three four"
    assert response.index == 4


def test_bidirectional_streaming_interleaves(echo):
    pb2, stub, _ = echo
    outgoing = queue.Queue()

    def requests():
        while True:
            item = outgoing.get()
            if item is None:
                return
            yield item

    call = stub.Chat(requests(), timeout=10)
    for i in range(20):
        outgoing.put(pb2.EchoRequest(text=f"m{i}"))
        reply = next(call)  # each answer arrives before the next request is sent
        assert (reply.text, reply.index) == (f"m{i}", i)
    outgoing.put(None)
    assert list(call) == []
    assert call.code() == grpc.StatusCode.OK


def test_three_mebibyte_message_round_trips(echo):
    pb2, stub, _ = echo
    payload = bytes(range(256)) * (3 * 1024 * 4)
    assert len(payload) == 3 * 1024 * 1024
    response = stub.Say(pb2.EchoRequest(text="big", payload=payload), timeout=20)
    assert response.payload == payload


def test_over_limit_message_is_resource_exhausted(echo, server):
    pb2, stub, _ = echo
    with pytest.raises(grpc.RpcError) as error:
        stub.Say(pb2.EchoRequest(payload=b"\x01" * (MAX_MESSAGE + 1)), timeout=20)
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert '"rpc.code":"RESOURCE_EXHAUSTED"' in server.log().replace(" ", "")  # the server refused it
    # The connection stays usable.
    assert stub.Say(pb2.EchoRequest(text="after"), timeout=5).text == "after"


def test_gzip_compressed_calls(echo):
    # grpcio compresses requests when asked; the server inflates them (unary and streaming).
    pb2, stub, _ = echo
    payload = b"nimbus " * 20000
    response = stub.Say(pb2.EchoRequest(text="zipped", payload=payload), timeout=10, compression=grpc.Compression.Gzip)
    assert (response.text, response.payload) == ("zipped", payload)
    words = ["one", "two", "three"]
    collected = stub.Collect(iter(pb2.EchoRequest(text=w) for w in words), timeout=5, compression=grpc.Compression.Deflate)
    assert collected.text == "one two three"


def test_compressed_message_over_the_limit_once_inflated_is_resource_exhausted(echo, server):
    # A few KiB on the wire that inflate past the limit: refused while inflating.
    pb2, stub, _ = echo
    with pytest.raises(grpc.RpcError) as error:
        stub.Say(pb2.EchoRequest(payload=b"\x00" * (MAX_MESSAGE + 1)), timeout=20, compression=grpc.Compression.Gzip)
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert stub.Say(pb2.EchoRequest(text="after"), timeout=5).text == "after"


def test_unknown_method_is_unimplemented(echo):
    _, _, channel = echo
    with pytest.raises(grpc.RpcError) as error:
        raw_unary(channel, "/nimbus.testing.v1.Echo/NoSuchMethod")(b"", timeout=5)
    assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(grpc.RpcError) as error:
        raw_unary(channel, "/no.such.Service/Call")(b"", timeout=5)
    assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_string_with_nul_is_invalid_argument_not_truncated(echo):
    # protobuf-c reads strings as C strings: the server must refuse U+0000, not cut the text.
    pb2, stub, _ = echo
    with pytest.raises(grpc.RpcError) as error:
        stub.Say(pb2.EchoRequest(text="left\x00right"), timeout=5)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "string field 'text' contains U+0000" in error.value.details()
    assert stub.Say(pb2.EchoRequest(text="left right", payload=b"\x00\x01"), timeout=5).payload == b"\x00\x01"


def test_deadline_expiring_in_handler(echo):
    pb2, stub, channel = echo
    before = cancellations(channel)
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as error:
        stub.Say(pb2.EchoRequest(text="slow", delay_ms=5000), timeout=0.3)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 3
    # The server cancelled the handler (its sleep was interrupted).
    deadline = time.monotonic() + 5
    while cancellations(channel) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cancellations(channel) > before


def test_client_cancellation_reaches_handler(echo):
    pb2, stub, channel = echo
    before = cancellations(channel)
    future = stub.Say.future(pb2.EchoRequest(text="cancel me", delay_ms=10000), timeout=30)
    time.sleep(0.3)
    assert future.cancel()
    deadline = time.monotonic() + 5
    while cancellations(channel) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cancellations(channel) == before + 1


def test_metadata_echo_including_binary(echo):
    pb2, stub, _ = echo
    binary = bytes([0, 1, 2, 250, 255])
    response, call = stub.Say.with_call(
        pb2.EchoRequest(text="meta"),
        metadata=[("x-echo-user", "ada"), ("x-echo-blob-bin", binary)], timeout=5)
    assert response.text == "meta"
    initial = dict(call.initial_metadata())
    trailing = dict(call.trailing_metadata())
    assert initial["x-echo-user"] == "ada"
    assert initial["x-echo-blob-bin"] == binary
    assert trailing["x-echo-user-trailer"] == "ada"
    assert trailing["x-echo-blob-trailer-bin"] == binary


@pytest.mark.parametrize("length", [1, 2, 3, 4])
def test_binary_metadata_padding_variants(echo, length):
    """grpcio sends -bin values unpadded; every length class decodes."""
    pb2, stub, _ = echo
    binary = bytes(range(200, 200 + length))
    _, call = stub.Say.with_call(pb2.EchoRequest(), metadata=[("x-echo-k-bin", binary)], timeout=5)
    assert dict(call.initial_metadata())["x-echo-k-bin"] == binary


def test_error_status_and_percent_encoded_message(echo):
    pb2, stub, _ = echo
    message = "bucket «photos» not found: 100% sure\nsecond line"
    with pytest.raises(grpc.RpcError) as error:
        stub.Say(pb2.EchoRequest(fail_with_code=5, fail_with_message=message), timeout=5)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert error.value.details() == message


def test_error_after_streamed_messages(echo):
    pb2, stub, _ = echo
    call = stub.Chat(iter([pb2.EchoRequest(text="ok"), pb2.EchoRequest(fail_with_code=9, fail_with_message="stop")]), timeout=5)
    first = next(call)
    assert first.text == "ok"
    with pytest.raises(grpc.RpcError) as error:
        next(call)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.value.details() == "stop"


def test_thousand_concurrent_calls_on_one_channel(echo):
    pb2, stub, _ = echo
    futures = [stub.Say.future(pb2.EchoRequest(text=f"call-{i}", delay_ms=20), timeout=60) for i in range(1000)]
    results = [f.result() for f in futures]
    assert [r.text for r in results] == [f"call-{i}" for i in range(1000)]


def test_raw_wire_service_streaming_backpressure(echo):
    """A large server stream the client reads slowly still arrives complete and in order."""
    _, _, channel = echo
    expand = channel.unary_stream(BYTES + "Expand", request_serializer=None, response_deserializer=None)
    received = 0
    for i, message in enumerate(expand(b"64:65536", timeout=30)):
        assert message == bytes([i % 256]) * 65536
        received += 1
        if i < 4:
            time.sleep(0.05)
    assert received == 64


def test_client_stream_of_many_messages(echo):
    _, _, channel = echo
    collect = channel.stream_unary(BYTES + "Collect", request_serializer=None, response_deserializer=None)
    response = collect(iter([b"\x07" * 1000] * 2000), timeout=30)
    assert response == b"2000:2000000"


def test_health_check(server):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with server.channel() as channel:
        health = health_pb2_grpc.HealthStub(channel)
        serving = health_pb2.HealthCheckResponse.SERVING
        assert health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status == serving
        assert health.Check(health_pb2.HealthCheckRequest(service="nimbus.testing.v1.Echo"), timeout=5).status == serving
        with pytest.raises(grpc.RpcError) as error:
            health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        assert error.value.code() == grpc.StatusCode.NOT_FOUND
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert next(watch).status == serving
        watch.cancel()


def test_reflection_lists_and_describes_services(server):
    from google.protobuf.descriptor_pool import DescriptorPool
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    with server.channel() as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {"nimbus.testing.v1.Echo", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection"} <= services
        pool = DescriptorPool(database)
        echo = pool.FindServiceByName("nimbus.testing.v1.Echo")
        assert [m.name for m in echo.methods] == ["Say", "Expand", "Collect", "Chat"]
        assert echo.file.name == "nimbus/testing/v1/echo.proto"
        request = pool.FindMessageTypeByName("nimbus.testing.v1.EchoRequest")
        assert "delay_ms" in request.fields_by_name
        assert pool.FindFileByName("grpc/health/v1/health.proto").package == "grpc.health.v1"


def test_reflection_v1_service_answers(server):
    """The v1 service directly, through raw bytes (grpcio-reflection's client speaks v1alpha)."""
    from grpc_reflection.v1alpha import reflection_pb2

    with server.channel() as channel:
        call = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                     request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                                     response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
        responses = list(call(iter([reflection_pb2.ServerReflectionRequest(list_services=""),
                                    reflection_pb2.ServerReflectionRequest(file_containing_symbol="nimbus.testing.v1.Echo.Say"),
                                    reflection_pb2.ServerReflectionRequest(file_by_filename="missing.proto")]), timeout=5))
        assert "nimbus.testing.v1.Echo" in [s.name for s in responses[0].list_services_response.service]
        assert len(responses[1].file_descriptor_response.file_descriptor_proto) >= 2  # echo.proto + timestamp.proto
        assert responses[2].error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


def test_mutual_tls(mtls_server, stubs):
    pb2, pb2_grpc = stubs
    with mtls_server.channel(client_cert=True) as channel:
        assert pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="mtls"), timeout=5).text == "mtls"
    with mtls_server.channel(client_cert=False) as channel:
        with pytest.raises(grpc.RpcError) as error:
            pb2_grpc.EchoStub(channel).Say(pb2.EchoRequest(text="anonymous"), timeout=5)
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE


def test_graceful_shutdown_drains_in_flight_calls(echo_server_binary, pki, tmp_path, stubs):
    from wire_server import start_server

    pb2, pb2_grpc = stubs
    running = start_server(echo_server_binary, "h2c", pki, tmp_path)
    try:
        with running.channel() as channel:
            stub = pb2_grpc.EchoStub(channel)
            assert stub.Say(pb2.EchoRequest(text="warm"), timeout=5).text == "warm"
            in_flight = stub.Say.future(pb2.EchoRequest(text="drained", delay_ms=700), timeout=10)
            time.sleep(0.2)
            running.process.terminate()  # SIGTERM: GOAWAY, drain, exit
            assert in_flight.result().text == "drained"
        assert running.process.wait(timeout=10) == 0
    finally:
        if running.process.poll() is None:
            running.process.kill()
