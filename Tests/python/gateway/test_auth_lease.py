"""Auth leases: gateways cache authentications (on by default) yet a revoked key fails on the
very next request through any gateway. Real binaries: two identity replicas on one PostgreSQL,
several gateways, revocations through a gateway and directly at identity."""
import re
import signal
import threading
import time

import grpc
import pytest
import requests

from conftest import Process, base_env, bearer, free_port, start_gateway

LEASE_S = 3.0  # identity's default lease


def metric(gateway, name, labels=""):
    text = requests.get(f"{gateway.url}/metrics", timeout=10).text
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" ([0-9.e+-]+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def cache_hits(gateway):
    return metric(gateway, "nimbus_gateway_auth_cache_total", 'result="hit"')


def wait_for_lease(gateway, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if metric(gateway, "nimbus_gateway_auth_lease") == 1:
            return
        time.sleep(0.05)
    raise AssertionError(f"{gateway.name} never got an auth lease: {gateway.log_path.read_text()[-3000:]}")


def whoami(gateway, key):
    return requests.get(f"{gateway.url}/v1/auth/whoami", headers=bearer(key), timeout=30).status_code


def warm(gateway, key):
    """Until answers for `key` come from the cache (hits go up), so the test can fail."""
    wait_for_lease(gateway)
    before = cache_hits(gateway)
    for _ in range(5):
        assert whoami(gateway, key) == 200
    assert cache_hits(gateway) >= before + 3, "the gateway did not serve from its auth cache"


class Hammer:
    """Requests through `gateways` with `key` back to back (one thread each), recording when
    each started and its status, so a test can check every request sent after a revocation
    answered — not just one that happens to come a few milliseconds later."""

    def __init__(self, gateways, key):
        self.results, self.stop, self.gateways = [], threading.Event(), gateways
        self.threads = [threading.Thread(target=self.run, args=(g, key), daemon=True) for g in gateways]
        for thread in self.threads:
            thread.start()

    def run(self, gateway, key):
        with requests.Session() as session:
            while not self.stop.is_set():
                started = time.monotonic()
                status = session.get(f"{gateway.url}/v1/auth/whoami", headers=bearer(key), timeout=30).status_code
                self.results.append((started, gateway.address, status))

    def wait_for(self, condition, what, timeout=10):
        deadline = time.monotonic() + timeout
        while not condition(list(self.results)):
            assert time.monotonic() < deadline, f"the hammer never saw {what}"
            time.sleep(0.01)

    def running(self):
        """Until every gateway has answered at least a few requests."""
        self.wait_for(lambda results: all(sum(1 for _, address, _ in results if address == g.address) >= 3 for g in self.gateways),
                      "answers from every gateway")

    def finish(self, after):
        self.wait_for(lambda results: sum(1 for started, _, _ in results if started > after) >= 10,
                      "ten requests after the revocation")
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        later = [(started - after, name, status) for started, name, status in self.results if started > after]
        assert len(later) >= 10, "too few requests after the revocation to tell"
        assert all(status == 401 for _, _, status in later), [r for r in later if r[2] != 401][:5]
        assert any(status == 200 for started, _, status in self.results if started < after)


def new_key(gateway, admin_key, name):
    created = requests.post(f"{gateway.url}/v1/api-keys", json={"name": name}, headers=bearer(admin_key), timeout=30)
    assert created.status_code == 200, created.text
    return created.json()["secret"], created.json()["key"]["id"]


@pytest.fixture(scope="module")
def pair(platform, log_dir):
    """Two gateways with default settings (leased auth cache on)."""
    for name in ("lease-a", "lease-b"):
        if name not in platform.gateways:
            platform.gateways[name] = start_gateway(platform, log_dir, NIMBUS_GATEWAY_KEY_RATE="0", NIMBUS_GATEWAY_IP_RATE="0")
    return platform.gateways["lease-a"], platform.gateways["lease-b"]


def test_revoke_through_one_gateway_fails_next_request_through_another(pair, platform):
    a, b = pair
    secret, key_id = new_key(a, platform.admin_key, "lease-revoke-a")
    warm(a, secret)
    warm(b, secret)
    hammer = Hammer([a, b], secret)
    hammer.running()
    revoked = requests.post(f"{a.url}/v1/api-keys/{key_id}:revoke", json={}, headers=bearer(platform.admin_key), timeout=30)
    answered = time.monotonic()
    assert revoked.status_code == 200, revoked.text
    hammer.finish(after=answered)
    assert whoami(b, secret) == 401
    assert whoami(a, secret) == 401
    # Other keys keep working and are cached again.
    warm(b, platform.admin_key)


def test_revoke_directly_at_identity_fails_next_request_through_gateways(pair, platform, stubs):
    a, b = pair
    pb, rpc = stubs["identity"]
    secret, key_id = new_key(a, platform.admin_key, "lease-revoke-direct")
    warm(a, secret)
    warm(b, secret)
    hammer = Hammer([a, b], secret)
    hammer.running()
    with grpc.insecure_channel(platform.identity[1].address) as channel:
        rpc.ApiKeysStub(channel).RevokeApiKey(pb.RevokeApiKeyRequest(id=key_id),
                                              metadata=[("authorization", f"Bearer {platform.admin_key}")], timeout=30)
    hammer.finish(after=time.monotonic())
    assert whoami(a, secret) == 401
    assert whoami(b, secret) == 401


def test_a_paused_gateway_refuses_the_revoked_key_when_it_resumes(pair, platform):
    """SIGSTOP: the gateway can neither hear the new epoch nor ack it, so the revocation waits
    out its lease; resumed, its very first request must not use the stale cache."""
    a, b = pair
    secret, key_id = new_key(a, platform.admin_key, "lease-pause")
    warm(a, secret)
    warm(b, secret)
    b.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        revoked = requests.post(f"{a.url}/v1/api-keys/{key_id}:revoke", json={}, headers=bearer(platform.admin_key), timeout=30)
        elapsed = time.monotonic() - started
        assert revoked.status_code == 200, revoked.text
        assert 1.0 < elapsed < LEASE_S + 1.5, f"revocation took {elapsed:.2f} s with one gateway paused"
    finally:
        b.process.send_signal(signal.SIGCONT)
    assert whoami(b, secret) == 401
    assert whoami(a, secret) == 401
    warm(b, platform.admin_key)  # b renews its lease and caches again


def test_internal_lease_methods_are_not_exposed(pair, platform, stubs):
    a, _ = pair
    pb, rpc = stubs["identity"]
    with grpc.insecure_channel(a.address) as channel:
        auth = rpc.AuthStub(channel)
        metadata = [("authorization", f"Bearer {platform.admin_key}")]
        with pytest.raises(grpc.RpcError) as error:
            auth.AckAuthEpoch(pb.AckAuthEpochRequest(watcher_id="x", epoch=1), metadata=metadata, timeout=30)
        assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
        with pytest.raises(grpc.RpcError) as error:
            next(iter(auth.WatchAuthEpoch(pb.WatchAuthEpochRequest(watcher_id="x"), metadata=metadata, timeout=30)))
        assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
    # Identity itself refuses them to anyone but a service principal.
    with grpc.insecure_channel(platform.identity[0].address) as channel:
        with pytest.raises(grpc.RpcError) as error:
            rpc.AuthStub(channel).AckAuthEpoch(pb.AckAuthEpochRequest(watcher_id="x", epoch=1),
                                               metadata=[("authorization", f"Bearer {platform.admin_key}")], timeout=30)
        assert error.value.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


def test_a_killed_gateway_holds_up_a_revocation_at_most_one_lease(pair, platform, log_dir):
    a, _ = pair
    doomed = start_gateway(platform, log_dir, NIMBUS_GATEWAY_KEY_RATE="0", NIMBUS_GATEWAY_IP_RATE="0")
    try:
        secret, key_id = new_key(a, platform.admin_key, "lease-kill")
        warm(doomed, secret)
        warm(a, secret)
        doomed.kill()
        started = time.monotonic()
        revoked = requests.post(f"{a.url}/v1/api-keys/{key_id}:revoke", json={}, headers=bearer(platform.admin_key), timeout=30)
        elapsed = time.monotonic() - started
        assert revoked.status_code == 200, revoked.text
        # It waited for the dead gateway's lease (renewed at most ~1 s before the kill) to lapse.
        assert 1.0 < elapsed < LEASE_S + 1.5, f"revocation took {elapsed:.2f} s with one gateway dead"
        assert whoami(a, secret) == 401
        # With the dead gateway's lease gone, the next change answers at once.
        second, second_id = new_key(a, platform.admin_key, "lease-kill-2")
        started = time.monotonic()
        assert requests.post(f"{a.url}/v1/api-keys/{second_id}:revoke", json={}, headers=bearer(platform.admin_key),
                             timeout=30).status_code == 200
        assert time.monotonic() - started < 1.0
    finally:
        doomed.stop()


def test_broken_watch_stream_falls_back_to_strict_and_stays_correct(platform, identity_dsn, log_dir, stubs):
    """A gateway whose only identity replica dies (and comes back on the same address) never
    accepts a key revoked meanwhile through another replica."""
    pb, rpc = stubs["identity"]
    port = free_port()
    env = base_env(NIMBUS_IDENTITY_DATABASE_URL=identity_dsn)
    own = Process("nimbus-identity", ["nimbus-identity", "serve"], env, log_dir, port=port)
    gateway = None
    try:
        gateway = Process("nimbus-gateway", ["nimbus-gateway", "serve"],
                          base_env(NIMBUS_IDENTITY_ENDPOINTS=own.address, NIMBUS_COMPUTE_ENDPOINTS="127.0.0.1:1",
                                   NIMBUS_GATEWAY_KEY_RATE="0", NIMBUS_GATEWAY_IP_RATE="0"), log_dir)
        first, first_id = new_key(gateway, platform.admin_key, "lease-restart-1")
        second, second_id = new_key(gateway, platform.admin_key, "lease-restart-2")
        warm(gateway, first)
        warm(gateway, second)
        own.kill()
        direct = [("authorization", f"Bearer {platform.admin_key}")]
        with grpc.insecure_channel(platform.identity[0].address) as channel:
            started = time.monotonic()
            rpc.ApiKeysStub(channel).RevokeApiKey(pb.RevokeApiKeyRequest(id=first_id), metadata=direct, timeout=30)
            assert time.monotonic() - started < LEASE_S + 1.5
        # Identity is down for this gateway: no cached answer, no success.
        assert whoami(gateway, first) != 200
        assert whoami(gateway, second) == 503
        own = Process("nimbus-identity", ["nimbus-identity", "serve"], env, log_dir, port=port)
        deadline = time.time() + 20
        while whoami(gateway, second) != 200:
            assert time.time() < deadline, "the gateway did not recover after identity came back"
            time.sleep(0.1)
        assert whoami(gateway, first) == 401
        warm(gateway, second)  # the lease is back and the cache serves again
        with grpc.insecure_channel(platform.identity[0].address) as channel:
            rpc.ApiKeysStub(channel).RevokeApiKey(pb.RevokeApiKeyRequest(id=second_id), metadata=direct, timeout=30)
        assert whoami(gateway, second) == 401
    finally:
        if gateway:
            gateway.stop()
        own.stop()
