"""Forged principals reach the signature check of a running compute and identity and fail there:
signed with another key, one byte of the tenant flipped under the original (valid) signature,
expired, claiming too long a life, and replayed after the principal key was rotated out. Each is UNAUTHENTICATED, while
the genuine token, sent just before (so a cache of verified tokens is warm), is accepted."""
import grpc
import pytest

from conftest import PRINCIPAL_KEY, sign_principal, start_binary, stop_binary

OTHER_KEY = "an-entirely-different-principal-key-0123456789"


def flip_tenant_byte(token, user_id, tenant_id):
    """The token with one hex digit of the tenant id changed; the signature left as it was."""
    offset = 1 + 8 + 2 + 1 + 2 + len(user_id.encode()) + 2  # version, expiry, length, format, user
    assert token[offset:offset + len(tenant_id)] == tenant_id.encode()
    index = offset + len(tenant_id) - 1
    forged = bytearray(token)
    forged[index] = ord("0") if forged[index] != ord("0") else ord("1")
    return bytes(forged)


def compute_answer(p, address, token):
    with grpc.insecure_channel(address) as channel:
        stub = p.rpc.InstancesStub(channel)
        try:
            stub.ListInstances(p.pb.ListInstancesRequest(page_size=1), metadata=[("x-nimbus-principal-bin", token)], timeout=30)
            return grpc.StatusCode.OK
        except grpc.RpcError as error:
            return error.code()


def identity_answer(p, address, token):
    with grpc.insecure_channel(address) as channel:
        try:
            who = p.irpc.AuthStub(channel).WhoAmI(p.ipb.WhoAmIRequest(), metadata=[("x-nimbus-principal-bin", token)], timeout=30)
            assert who.principal.user_id == p.admin_user_id
            return grpc.StatusCode.OK
        except grpc.RpcError as error:
            return error.code()


def forgeries(p):
    genuine = sign_principal(p.admin_user_id, p.tenant_id)
    return genuine, {
        "another key": sign_principal(p.admin_user_id, p.tenant_id, key=OTHER_KEY),
        "tenant byte flipped": flip_tenant_byte(genuine, p.admin_user_id, p.tenant_id),
        # Verifiers allow 5 s of clock skew and tokens of at most 300 s (PrincipalSigner).
        "expired": sign_principal(p.admin_user_id, p.tenant_id, lifetime_ms=-10_000),
        "expiry too far ahead": sign_principal(p.admin_user_id, p.tenant_id, lifetime_ms=3_600_000),
        "truncated signature": genuine[:-1],
    }


@pytest.mark.parametrize("service", ["compute", "identity"])
def test_forged_principals_are_unauthenticated(platform, service):
    p = platform
    address = p.compute_address if service == "compute" else p.identity_address
    answer = compute_answer if service == "compute" else identity_answer
    genuine, forged = forgeries(p)
    assert answer(p, address, genuine) == grpc.StatusCode.OK
    answers = {name: answer(p, address, token) for name, token in forged.items()}
    assert answers == {name: grpc.StatusCode.UNAUTHENTICATED for name in forged}
    assert answer(p, address, genuine) == grpc.StatusCode.OK, "the genuine token still works"


def test_a_principal_replayed_after_key_rotation_is_unauthenticated(platform, tmp_path):
    """Rotation: services run with a new key and the old one as previous (old tokens verify),
    then with the new key alone: a token signed with the old key, still unexpired, is refused."""
    p = platform
    new_key = "the-rotated-principal-key-0123456789abcdef"
    old_token = sign_principal(p.admin_user_id, p.tenant_id, lifetime_ms=240_000)
    new_token = sign_principal(p.admin_user_id, p.tenant_id, key=new_key)
    identity_env = {**p.identity_env, "NIMBUS_PRINCIPAL_KEY": new_key}
    expected = {"during rotation": (grpc.StatusCode.OK, grpc.StatusCode.OK),
                "after rotation": (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.OK)}
    for phase, previous in (("during rotation", PRINCIPAL_KEY), ("after rotation", None)):
        extra = {"NIMBUS_PRINCIPAL_PREVIOUS_KEYS": previous} if previous else {}
        identity_address, identity, identity_log = start_binary("nimbus-identity", [], {**identity_env, **extra}, tmp_path)
        compute_env = {**p.compute_env, "NIMBUS_PRINCIPAL_KEY": new_key, "NIMBUS_IDENTITY_ENDPOINTS": identity_address, **extra}
        compute_address, compute, compute_log = start_binary("nimbus-compute", [], compute_env, tmp_path)
        try:
            for name, address, answer in (("compute", compute_address, compute_answer), ("identity", identity_address, identity_answer)):
                got = (answer(p, address, old_token), answer(p, address, new_token))
                assert got == expected[phase], f"{name} {phase}: old/new key tokens answered {got}"
        finally:
            stop_binary(compute, compute_log)
            stop_binary(identity, identity_log)
