"""A plain grpcio client (written by others) drives the real nimbus-identity: it creates a
user, a tenant and an API key, and the new key authenticates."""
import grpc
import pytest

import suite_support


def call(stub_method, request, key):
    return stub_method(request, metadata=[("authorization", f"Bearer {key}")], timeout=30)


def test_create_user_tenant_and_key(identity, stubs):
    pb, rpc = stubs
    with grpc.insecure_channel(identity.address) as channel:
        users, tenants, keys = rpc.UsersStub(channel), rpc.TenantsStub(channel), rpc.ApiKeysStub(channel)
        auth = rpc.AuthStub(channel)

        user = call(users.CreateUser, pb.CreateUserRequest(
            email="Grace@Example.com", name="Grace", password="a long enough password", role="developer"),
            identity.admin_key)
        assert user.id and user.email == "Grace@Example.com" and user.version == 1

        # Case-insensitive uniqueness of email.
        with pytest.raises(grpc.RpcError) as dup:
            call(users.CreateUser, pb.CreateUserRequest(email="grace@example.com", name="G2", password="another password!"),
                 identity.admin_key)
        assert dup.value.code() == grpc.StatusCode.ALREADY_EXISTS

        # Grace logs in and gets a session key; with it she creates her own tenant and a key there.
        login = auth.Login(pb.LoginRequest(email="grace@example.com", password="a long enough password"), timeout=30)
        assert login.secret.startswith("nmb_") and login.user.id == user.id
        tenant = call(tenants.CreateTenant, pb.CreateTenantRequest(name="Grace Labs", slug="grace-labs"), login.secret)
        assert tenant.id and tenant.slug == "grace-labs"

        created = call(keys.CreateApiKey, pb.CreateApiKeyRequest(name="ci"), login.secret)
        assert created.secret.startswith(f"nmb_{created.key.prefix}_")
        listed = call(keys.ListApiKeys, pb.ListApiKeysRequest(), login.secret)
        assert created.key.id in [k.id for k in listed.keys]
        assert created.secret not in str(listed)

        who = call(auth.WhoAmI, pb.WhoAmIRequest(), created.secret)
        assert who.principal.user_id == user.id and who.principal.key_id == created.key.id

        call(keys.RevokeApiKey, pb.RevokeApiKeyRequest(id=created.key.id), login.secret)
        with pytest.raises(grpc.RpcError) as revoked:
            call(auth.WhoAmI, pb.WhoAmIRequest(), created.secret)
        assert revoked.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_no_credentials_is_unauthenticated(identity, stubs):
    pb, rpc = stubs
    with grpc.insecure_channel(identity.address) as channel:
        with pytest.raises(grpc.RpcError) as err:
            rpc.UsersStub(channel).ListUsers(pb.ListUsersRequest(), timeout=30)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_wrong_password_is_unauthenticated(identity, stubs):
    pb, rpc = stubs
    with grpc.insecure_channel(identity.address) as channel:
        with pytest.raises(grpc.RpcError) as err:
            rpc.AuthStub(channel).Login(pb.LoginRequest(email=identity.admin_email, password="nope"), timeout=30)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_no_secret_at_rest(identity, stubs, postgres):
    """A pg_dump of the identity schema holds neither the API-key secrets nor the passwords
    this test created (only their hashes)."""
    import subprocess
    pb, rpc = stubs
    password = suite_support.secret("correct-horse-battery-staple-42")
    with grpc.insecure_channel(identity.address) as channel:
        users, keys, auth = rpc.UsersStub(channel), rpc.ApiKeysStub(channel), rpc.AuthStub(channel)
        call(users.CreateUser, pb.CreateUserRequest(email="dump@example.com", name="Dump", password=password, role="developer"),
             identity.admin_key)
        session = auth.Login(pb.LoginRequest(email="dump@example.com", password=password), timeout=30).secret
        created = call(keys.CreateApiKey, pb.CreateApiKeyRequest(name="dump"), session).secret
        rotated = call(keys.RotateApiKey, pb.RotateApiKeyRequest(id=call(keys.ListApiKeys, pb.ListApiKeysRequest(), session).keys[0].id),
                       session).secret
    dump = subprocess.run(["/usr/lib/postgresql/15/bin/pg_dump", "--schema=identity", "--data-only", postgres],
                          capture_output=True, text=True, check=True).stdout
    assert "dump@example.com" in dump  # the dump is real and has our rows
    assert password not in dump
    for key in [created, rotated, session, identity.admin_key]:
        assert key not in dump
        assert key[len("nmb_") + 13:] not in dump  # nor the secret part alone


def sign_principal(key, user_id, tenant_id, role, permissions, key_id="", lifetime_ms=60_000):
    """The x-nimbus-principal-bin token, built from its documented format (PrincipalSigner)."""
    import hashlib
    import hmac
    import struct
    import time

    def s(text):
        b = text.encode()
        return struct.pack(">H", len(b)) + b
    perms = sorted(permissions)
    encoded = (b"\x01" + s(user_id) + s(tenant_id) + s(role) + s(key_id)
               + struct.pack(">H", len(perms)) + b"".join(s(p) for p in perms))
    body = b"\x01" + struct.pack(">Q", int(time.time() * 1000) + lifetime_ms) + struct.pack(">H", len(encoded)) + encoded
    return body + hmac.new(key.encode(), b"nimbus-principal-v1\x00" + body, hashlib.sha256).digest()


def test_authenticate_for_the_gateway_and_immediate_revocation(identity, stubs):
    """The gateway's path over the wire: a service principal signed with the shared key calls
    Authenticate; a revoked key fails on the very next call; unsigned callers are refused."""
    pb, rpc = stubs
    service = [("x-nimbus-principal-bin", sign_principal(identity.principal_key, "service:gateway", "", "service", ["service:internal"]))]
    with grpc.insecure_channel(identity.address) as channel:
        auth, keys = rpc.AuthStub(channel), rpc.ApiKeysStub(channel)
        created = call(keys.CreateApiKey, pb.CreateApiKeyRequest(name="gateway-test"), identity.admin_key)
        reply = auth.Authenticate(pb.AuthenticateRequest(api_key=created.secret), metadata=service, timeout=30)
        assert reply.principal.key_id == created.key.id and "iam:manage" in reply.principal.permissions
        assert len(reply.signed_principal) > 32
        # The signed principal identity returns is accepted as a caller identity.
        who = auth.WhoAmI(pb.WhoAmIRequest(), metadata=[("x-nimbus-principal-bin", reply.signed_principal)], timeout=30)
        assert who.principal.user_id == reply.principal.user_id

        call(keys.RevokeApiKey, pb.RevokeApiKeyRequest(id=created.key.id), identity.admin_key)
        with pytest.raises(grpc.RpcError) as revoked:
            auth.Authenticate(pb.AuthenticateRequest(api_key=created.secret), metadata=service, timeout=30)
        assert revoked.value.code() == grpc.StatusCode.UNAUTHENTICATED

        for metadata in ([], [("x-nimbus-principal-bin", sign_principal(identity.principal_key, "service:gateway", "", "service", ["service:internal"],
                                                                         lifetime_ms=-60_000))]):
            with pytest.raises(grpc.RpcError) as refused:
                auth.Authenticate(pb.AuthenticateRequest(api_key=identity.admin_key), metadata=metadata, timeout=30)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # A user principal (no service:internal) may not call the internal RPC.
        user = [("x-nimbus-principal-bin", sign_principal(identity.principal_key, reply.principal.user_id, reply.principal.tenant_id, "admin", ["iam:manage"]))]
        with pytest.raises(grpc.RpcError) as denied:
            auth.Authenticate(pb.AuthenticateRequest(api_key=identity.admin_key), metadata=user, timeout=30)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_auth_epoch_watch_and_lease_acks(identity, stubs):
    """The gateways' lease protocol over grpcio: the watch sends the current epoch at once and
    the new one after a revocation; an ack of the current epoch is granted, a stale one refused;
    and the revocation answers only after the leased watcher acknowledged (or its lease ran out)."""
    import threading
    import time
    pb, rpc = stubs
    service = [("x-nimbus-principal-bin", sign_principal(identity.principal_key, "service:gateway", "", "service", ["service:internal"]))]
    with grpc.insecure_channel(identity.address) as channel:
        auth, keys = rpc.AuthStub(channel), rpc.ApiKeysStub(channel)
        created = call(keys.CreateApiKey, pb.CreateApiKeyRequest(name="lease-test"), identity.admin_key)
        watch = auth.WatchAuthEpoch(pb.WatchAuthEpochRequest(watcher_id="pytest-watcher"), metadata=service, timeout=60)
        first = next(watch)
        assert first.epoch >= 1 and first.lease_ms > 0
        granted = auth.AckAuthEpoch(pb.AckAuthEpochRequest(watcher_id="pytest-watcher", epoch=first.epoch), metadata=service, timeout=30)
        assert granted.granted and granted.epoch == first.epoch and granted.lease_ms == first.lease_ms

        # Ack every epoch the watch delivers after a short delay, as a slow gateway would.
        acked = []

        def acker():
            for event in watch:
                if event.epoch > first.epoch:
                    time.sleep(0.3)
                    acked.append(auth.AckAuthEpoch(pb.AckAuthEpochRequest(watcher_id="pytest-watcher", epoch=event.epoch),
                                                   metadata=service, timeout=30))
                    return
        thread = threading.Thread(target=acker, daemon=True)
        thread.start()
        started = time.monotonic()
        call(keys.RevokeApiKey, pb.RevokeApiKeyRequest(id=created.key.id), identity.admin_key)
        waited = time.monotonic() - started
        thread.join(timeout=10)
        watch.cancel()
        assert acked and acked[0].granted
        assert 0.25 < waited < first.lease_ms / 1000 + 1, f"the revocation answered after {waited:.2f} s"
        stale = auth.AckAuthEpoch(pb.AckAuthEpochRequest(watcher_id="pytest-watcher", epoch=first.epoch), metadata=service, timeout=30)
        assert not stale.granted and stale.epoch > first.epoch
        with pytest.raises(grpc.RpcError) as refused:
            auth.AckAuthEpoch(pb.AckAuthEpochRequest(watcher_id="", epoch=first.epoch), metadata=service, timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
