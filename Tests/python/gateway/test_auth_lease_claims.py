"""What the README promises of the auth lease, end to end through a leased gateway whose cache
already serves the key: a role downgrade is PERMISSION_DENIED on the next request, deactivation
and membership removal refuse the next request, and a rotation's sunset is honoured (the old
secret works until then, not after)."""
import datetime
import time
import uuid

import pytest
import requests

import suite_support
from conftest import bearer, start_gateway
from test_auth_lease import warm, whoami


@pytest.fixture(scope="module")
def leased(platform, log_dir):
    """A gateway with default settings: authentications cached under identity's lease."""
    if "claims" not in platform.gateways:
        platform.gateways["claims"] = start_gateway(platform, log_dir, NIMBUS_GATEWAY_KEY_RATE="0", NIMBUS_GATEWAY_IP_RATE="0")
    return platform.gateways["claims"]


def admin_tenant(gateway, platform):
    return requests.get(f"{gateway.url}/v1/auth/whoami", headers=bearer(platform.admin_key), timeout=30).json()["principal"]["tenantId"]


def developer(gateway, platform):
    """A new developer in the admin's tenant, logged in: (user json, secret)."""
    email, password = f"lease-{uuid.uuid4().hex[:8]}@example.com", suite_support.secret("a lease claims password")
    user = requests.post(f"{gateway.url}/v1/users", headers=bearer(platform.admin_key), timeout=30,
                         json={"email": email, "name": "Lease", "password": password, "role": "developer"})
    assert user.status_code == 200, user.text
    login = requests.post(f"{gateway.url}/v1/auth/login", json={"email": email, "password": password}, timeout=30)
    assert login.status_code == 200, login.text
    return user.json(), login.json()["secret"]


def list_users(gateway, key):
    """Needs iam:read: developers have it, viewers do not."""
    return requests.get(f"{gateway.url}/v1/users", params={"page_size": 1}, headers=bearer(key), timeout=30).status_code


def test_role_downgrade_is_permission_denied_on_the_next_request(leased, platform):
    user, secret = developer(leased, platform)
    warm(leased, secret)
    assert list_users(leased, secret) == 200
    changed = requests.patch(f"{leased.url}/v1/tenants/{admin_tenant(leased, platform)}/members/{user['id']}",
                             json={"role": "viewer"}, headers=bearer(platform.admin_key), timeout=30)
    assert changed.status_code == 200, changed.text
    assert list_users(leased, secret) == 403
    assert whoami(leased, secret) == 200, "still authenticated, with less"


def test_deactivation_is_unauthenticated_on_the_next_request(leased, platform):
    user, secret = developer(leased, platform)
    warm(leased, secret)
    deactivated = requests.post(f"{leased.url}/v1/users/{user['id']}:deactivate", json={"version": user["version"]},
                                headers=bearer(platform.admin_key), timeout=30)
    assert deactivated.status_code == 200, deactivated.text
    assert whoami(leased, secret) == 401


def test_membership_removal_refuses_the_next_request(leased, platform):
    user, secret = developer(leased, platform)
    warm(leased, secret)
    assert list_users(leased, secret) == 200
    removed = requests.delete(f"{leased.url}/v1/tenants/{admin_tenant(leased, platform)}/members/{user['id']}",
                              headers=bearer(platform.admin_key), timeout=30)
    assert removed.status_code == 200, removed.text
    assert list_users(leased, secret) in (401, 403)
    assert whoami(leased, secret) in (401, 403)


def rotate(gateway, platform, key_id, sunset=None):
    body = {"previousValidUntil": sunset.isoformat().replace("+00:00", "Z")} if sunset else {}
    rotated = requests.post(f"{gateway.url}/v1/api-keys/{key_id}:rotate", json=body, headers=bearer(platform.admin_key), timeout=30)
    assert rotated.status_code == 200, rotated.text
    return rotated.json()["secret"]


def new_key(gateway, platform):
    created = requests.post(f"{gateway.url}/v1/api-keys", json={"name": f"rotate-{uuid.uuid4().hex[:6]}"},
                            headers=bearer(platform.admin_key), timeout=30)
    assert created.status_code == 200, created.text
    return created.json()["secret"], created.json()["key"]["id"]


def sunset_is_honoured(gateway, platform, cached):
    old, key_id = new_key(gateway, platform)
    if cached:
        warm(gateway, old)
    sunset = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=4)
    new = rotate(gateway, platform, key_id, sunset)
    assert whoami(gateway, new) == 200
    assert whoami(gateway, old) == 200, "the previous secret works until its sunset"
    # Identity signs the previous secret's principal to expire at the sunset, so a leased
    # gateway cannot hold the answer past it (a sunset passing bumps no auth epoch).
    while datetime.datetime.now(datetime.timezone.utc) < sunset + datetime.timedelta(milliseconds=200):
        time.sleep(0.05)
    assert whoami(gateway, old) == 401, "the previous secret still worked after its sunset"
    assert whoami(gateway, new) == 200


def test_rotation_sunset_is_honoured_by_a_strict_gateway(platform, log_dir):
    if "strict" not in platform.gateways:
        platform.gateways["strict"] = start_gateway(platform, log_dir, NIMBUS_GATEWAY_AUTH_LEASE="false",
                                                    NIMBUS_GATEWAY_KEY_RATE="0", NIMBUS_GATEWAY_IP_RATE="0")
    sunset_is_honoured(platform.gateways["strict"], platform, cached=False)


def test_rotation_sunset_is_honoured_through_the_cache(leased, platform):
    sunset_is_honoured(leased, platform, cached=True)


def test_rotation_without_a_sunset_refuses_the_old_secret_at_once(leased, platform):
    old, key_id = new_key(leased, platform)
    warm(leased, old)
    new = rotate(leased, platform, key_id)
    assert whoami(leased, old) == 401
    assert whoami(leased, new) == 200
