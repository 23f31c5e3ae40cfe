"""Failed logins against two real nimbus-identity replicas on one database: the throttle is
shared (alternating replicas does not buy more guesses), and every failure is audited."""
import subprocess

import grpc
import pytest


def call(stub_method, request, key):
    return stub_method(request, metadata=[("authorization", f"Bearer {key}")], timeout=30)


def login_code(channel, rpc, pb, email, password):
    try:
        rpc.AuthStub(channel).Login(pb.LoginRequest(email=email, password=password), timeout=30)
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as err:
        return err.code(), err.details()


def test_failures_alternated_between_replicas_hit_one_shared_limit(identity, identity_replica, stubs, postgres):
    pb, rpc = stubs
    password = "heidi's real password"
    with grpc.insecure_channel(identity.address) as first, grpc.insecure_channel(identity_replica.address) as second:
        call(rpc.UsersStub(first).CreateUser, pb.CreateUserRequest(
            email="heidi@example.com", name="Heidi", password=password, role="viewer"), identity.admin_key)
        assert login_code(second, rpc, pb, "heidi@example.com", password)[0] == grpc.StatusCode.OK

        # Five wrong guesses, alternating replicas: each replica alone saw at most three.
        guesses = [f"guess-number-{i}-xyz" for i in range(5)]
        for i, guess in enumerate(guesses):
            code, _ = login_code(first if i % 2 == 0 else second, rpc, pb, "heidi@example.com", guess)
            assert code == grpc.StatusCode.UNAUTHENTICATED
        # Now both refuse, even the right password.
        for channel in (first, second):
            code, details = login_code(channel, rpc, pb, "heidi@example.com", password)
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
            assert details.startswith("too many failed logins; retry in ")
        # Unknown email answers exactly like a wrong password.
        assert login_code(second, rpc, pb, "nobody-here@example.com", "guess-number-x-xyz") == \
            login_code(first, rpc, pb, "admin@example.com", "guess-number-y-xyz")

        # The failures are in the audit log (the platform chain: no tenant was named), without
        # any of the guessed passwords, and the chain verifies.
        dump = subprocess.run(["/usr/lib/postgresql/15/bin/psql", postgres, "-At", "-c",
                               "SELECT e::text FROM identity.audit_events e WHERE e.action = 'auth.login_failed'"],
                              capture_output=True, text=True, check=True).stdout
        rows = dump.splitlines()
        assert sum("bad_credentials" in r for r in rows) >= 7 and sum("throttled" in r for r in rows) >= 2
        for secret in guesses + [password, "nobody-here@example.com"]:
            assert secret not in dump
        verdict = call(rpc.AuditStub(first).VerifyAuditChain,
                       pb.VerifyAuditChainRequest(tenant_id="00000000-0000-0000-0000-000000000000"), identity.admin_key)
        assert verdict.ok, verdict
