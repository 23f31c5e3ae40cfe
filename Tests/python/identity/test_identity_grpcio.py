"""A plain grpcio client (written by others) drives the real nimbus-identity: it creates a
user, a tenant and an API key, and the new key authenticates."""
import grpc
import pytest


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
    password = "correct-horse-battery-staple-42"
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
