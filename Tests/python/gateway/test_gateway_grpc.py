"""A plain grpcio client through the gateway: bearer key in, principal attached upstream;
no key or a bad key is UNAUTHENTICATED; the services refuse calls without a signed principal;
losing one of two replicas loses no later request."""
import grpc
import pytest

# Imported at collection time: later, the name `conftest` may point at another suite's.
from conftest import Process, start_gateway


def meta(key):
    return [("authorization", f"Bearer {key}")]


def test_identity_through_the_gateway(gateway, platform, stubs):
    pb, rpc = stubs["identity"]
    with grpc.insecure_channel(gateway.address) as channel:
        who = rpc.AuthStub(channel).WhoAmI(pb.WhoAmIRequest(), metadata=meta(platform.admin_key), timeout=30)
        assert who.user.email == "admin@example.com"
        users = rpc.UsersStub(channel).ListUsers(pb.ListUsersRequest(page_size=10), metadata=meta(platform.admin_key), timeout=30)
        assert any(u.email == "admin@example.com" for u in users.users)


def test_no_key_or_bad_key_is_unauthenticated(gateway, stubs):
    pb, rpc = stubs["identity"]
    with grpc.insecure_channel(gateway.address) as channel:
        stub = rpc.AuthStub(channel)
        for metadata in ([], meta("nmb_aaaaaaaaaaaa_" + "b" * 43)):
            with pytest.raises(grpc.RpcError) as error:
                stub.WhoAmI(pb.WhoAmIRequest(), metadata=metadata, timeout=30)
            assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_internal_methods_are_not_exposed(gateway, platform, stubs):
    pb, rpc = stubs["identity"]
    with grpc.insecure_channel(gateway.address) as channel:
        with pytest.raises(grpc.RpcError) as error:
            rpc.AuthStub(channel).Authenticate(pb.AuthenticateRequest(api_key=platform.admin_key),
                                               metadata=meta(platform.admin_key), timeout=30)
        assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_deadline_is_propagated(gateway, platform, stubs):
    pb, rpc = stubs["identity"]
    with grpc.insecure_channel(gateway.address) as channel:
        with pytest.raises(grpc.RpcError) as error:
            rpc.UsersStub(channel).ListUsers(pb.ListUsersRequest(), metadata=meta(platform.admin_key), timeout=0.0001)
        assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_services_refuse_calls_without_a_signed_principal(platform, stubs):
    pb, rpc = stubs["identity"]
    with grpc.insecure_channel(platform.identity[0].address) as channel:
        with pytest.raises(grpc.RpcError) as error:
            rpc.UsersStub(channel).ListUsers(pb.ListUsersRequest(), timeout=30)
        assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
        forged = [("x-nimbus-principal-bin", b"\x01" + b"\x00" * 60)]
        with pytest.raises(grpc.RpcError) as error:
            rpc.UsersStub(channel).ListUsers(pb.ListUsersRequest(), metadata=forged, timeout=30)
        assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert platform.compute, "compute runs in this suite: an empty list would check nothing"
    for compute in platform.compute:
        with grpc.insecure_channel(compute.address) as channel:
            # Any method: the principal check comes first.
            call = channel.unary_unary("/nimbus.compute.v1.Instances/ListInstances",
                                       request_serializer=lambda b: b, response_deserializer=lambda b: b)
            with pytest.raises(grpc.RpcError) as error:
                call(b"", timeout=30)
            assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_losing_one_replica_loses_no_later_request(platform, stubs, log_dir):
    """Kills one identity replica, then brings it back on the same address (tests run in
    random order: the next one finds the platform as it was)."""
    import requests
    pb, rpc = stubs["identity"]
    gateway = start_gateway(platform, log_dir, NIMBUS_GATEWAY_KEY_RATE="0", NIMBUS_GATEWAY_IP_RATE="0")
    platform.gateways["replicas"] = gateway
    victim = platform.identity[0]
    try:
        with grpc.insecure_channel(gateway.address) as channel:
            stub = rpc.AuthStub(channel)
            for _ in range(10):
                stub.WhoAmI(pb.WhoAmIRequest(), metadata=meta(platform.admin_key), timeout=30)
            victim.kill()
            failures = 0
            for _ in range(50):
                try:
                    stub.WhoAmI(pb.WhoAmIRequest(), metadata=meta(platform.admin_key), timeout=30)
                except grpc.RpcError:
                    failures += 1
            assert failures == 0
        for _ in range(20):
            assert requests.get(f"{gateway.url}/v1/auth/whoami",
                                headers={"Authorization": f"Bearer {platform.admin_key}"}).status_code == 200
    finally:
        victim.stop()
        platform.identity[0] = Process("nimbus-identity", ["nimbus-identity", "serve"], platform.identity_env, log_dir,
                                       port=victim.port)
