import time

import grpc


def _stub(port, stubs):
    echo_pb2, echo_pb2_grpc = stubs
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return channel, echo_pb2, echo_pb2_grpc.EchoStub(channel)


def _observed(stub, echo_pb2, tag):
    for _ in range(100):
        seen = stub.Say(echo_pb2.EchoRequest(text=f"query:{tag}")).text
        if seen != "unknown":
            return seen
        time.sleep(0.05)
    return "unknown"


def test_metadata_echo_and_replica_port(echo_server, stubs):
    channel, echo_pb2, stub = _stub(echo_server, stubs)
    with channel:
        response, call = stub.Say.with_call(echo_pb2.EchoRequest(text="hi"),
                                            metadata=[("x-text", "v"), ("x-blob-bin", b"\x00\xff")])
        assert response.text == "hi"
        initial = dict(call.initial_metadata())
        assert initial["x-text"] == "v"
        assert initial["x-blob-bin"] == b"\x00\xff"
        assert initial["x-server-port"] == str(echo_server)
        assert dict(call.trailing_metadata())["x-blob-bin"] == b"\x00\xff"


def test_handler_sees_client_cancellation(echo_server, stubs):
    channel, echo_pb2, stub = _stub(echo_server, stubs)
    with channel:
        future = stub.Say.future(echo_pb2.EchoRequest(text="tag:py-cancel", delay_ms=10_000))
        time.sleep(0.3)
        future.cancel()
        assert _observed(stub, echo_pb2, "py-cancel") == "cancelled"


def test_handler_sees_deadline(echo_server, stubs):
    channel, echo_pb2, stub = _stub(echo_server, stubs)
    with channel:
        try:
            stub.Say(echo_pb2.EchoRequest(text="tag:py-deadline", delay_ms=5_000), timeout=0.3)
            raise AssertionError("expected DEADLINE_EXCEEDED")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert _observed(stub, echo_pb2, "py-deadline") in ("deadline", "cancelled")


def test_failure_status_and_message(echo_server, stubs):
    channel, echo_pb2, stub = _stub(echo_server, stubs)
    with channel:
        try:
            stub.Say(echo_pb2.EchoRequest(fail_with_code=5, fail_with_message="gone 100%"))
            raise AssertionError("expected NOT_FOUND")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND
            assert error.details() == "gone 100%"
