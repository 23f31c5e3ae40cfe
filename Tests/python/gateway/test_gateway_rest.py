"""The REST face with plain HTTP (requests): authentication, problem+json errors, request
ids, transcoding errors, revocation, rate limits, operational routes."""
import uuid

import requests

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, bearer


def problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("urn:nimbus:problem:")
    assert body["requestId"] == response.headers["x-request-id"]
    return body


def test_operational_routes_need_no_key(gateway):
    assert requests.get(f"{gateway.url}/healthz").status_code == 200
    assert requests.get(f"{gateway.url}/readyz").status_code == 200
    document = requests.get(f"{gateway.url}/v1/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    assert "/v1/users/{id}" in document["paths"] and "/v1/auth/login" in document["paths"]
    assert document["paths"]["/v1/auth/login"]["post"]["security"] == []


def test_missing_and_bad_keys_are_401(gateway):
    body = problem(requests.get(f"{gateway.url}/v1/auth/whoami"), 401)
    assert body["code"] == "UNAUTHENTICATED"
    problem(requests.get(f"{gateway.url}/v1/auth/whoami", headers=bearer("nmb_aaaaaaaaaaaa_" + "x" * 43)), 401)
    problem(requests.get(f"{gateway.url}/v1/auth/whoami", headers={"Authorization": "Basic Zm9vOmJhcg=="}), 401)


def test_request_ids_are_echoed_or_generated(gateway, platform):
    mine = requests.get(f"{gateway.url}/v1/auth/whoami", headers={**bearer(platform.admin_key), "x-request-id": "py-req-1"})
    assert mine.status_code == 200 and mine.headers["x-request-id"] == "py-req-1"
    generated = requests.get(f"{gateway.url}/v1/auth/whoami", headers=bearer(platform.admin_key))
    assert len(generated.headers["x-request-id"]) == 32


def test_every_response_carries_a_request_id(gateway, platform):
    services = [gateway.url] + [f"http://{p.address}" for p in platform.identity + platform.compute]
    assert len(services) >= 2, "identity runs in this suite: the gateway alone would check less"
    for base in services:
        for path, status in [("/healthz", 200), ("/readyz", 200), ("/metrics", 200), ("/no/such/route", 404)]:
            response = requests.get(f"{base}{path}")
            assert response.status_code == status, (base, path, response.status_code)
            assert len(response.headers["x-request-id"]) == 32, (base, path)
        echoed = requests.get(f"{base}/healthz", headers={"x-request-id": "py-health-1"})
        assert echoed.headers["x-request-id"] == "py-health-1"
        assert requests.post(f"{base}/healthz").headers["x-request-id"]
    assert requests.get(f"{gateway.url}/v1/openapi.json").headers["x-request-id"]
    assert len(problem(requests.get(f"{gateway.url}/v1/auth/whoami"), 401)["requestId"]) == 32


def test_empty_lists_are_arrays(gateway, platform):
    headers = bearer(platform.admin_key)
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    user = requests.post(f"{gateway.url}/v1/users", headers=headers,
                         json={"email": email, "name": "Keyless", "password": "a long enough password", "role": "developer"})
    assert user.status_code == 200, user.text
    keys = requests.get(f"{gateway.url}/v1/api-keys", params={"user_id": user.json()["id"]}, headers=headers)
    assert keys.status_code == 200, keys.text
    assert keys.json()["keys"] == []
    # Other defaults stay omitted (an empty page token is not printed).
    assert "nextPageToken" not in keys.json()


def test_login_route_makes_a_key(gateway):
    response = requests.post(f"{gateway.url}/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    secret = response.json()["secret"]
    who = requests.get(f"{gateway.url}/v1/auth/whoami", headers=bearer(secret)).json()
    assert who["user"]["email"] == ADMIN_EMAIL
    problem(requests.post(f"{gateway.url}/v1/auth/login", json={"email": ADMIN_EMAIL, "password": "wrong"}), 401)


def test_tenant_user_and_key_over_rest(gateway, platform):
    headers = bearer(platform.admin_key)
    slug = f"t-{uuid.uuid4().hex[:8]}"
    tenant = requests.post(f"{gateway.url}/v1/tenants", json={"name": "Py Tenant", "slug": slug}, headers=headers)
    assert tenant.status_code == 200, tenant.text
    assert tenant.json()["slug"] == slug and tenant.json()["version"] == "1"  # int64 as a string

    email = f"{uuid.uuid4().hex[:8]}@example.com"
    user = requests.post(f"{gateway.url}/v1/users", headers=headers,
                         json={"email": email, "name": "Py", "password": "a long enough password", "role": "developer"})
    assert user.status_code == 200, user.text
    user_id = user.json()["id"]
    assert requests.get(f"{gateway.url}/v1/users/{user_id}", headers=headers).json()["email"] == email

    listed = requests.get(f"{gateway.url}/v1/users", params={"page_size": 1}, headers=headers)
    assert listed.status_code == 200 and len(listed.json()["users"]) == 1
    assert listed.json().get("nextPageToken")

    key = requests.post(f"{gateway.url}/v1/api-keys", json={"name": "py"}, headers=headers)
    assert key.status_code == 200, key.text
    assert key.json()["secret"].startswith("nmb_")


def test_revoked_key_fails_on_the_next_request(gateway, platform):
    headers = bearer(platform.admin_key)
    created = requests.post(f"{gateway.url}/v1/api-keys", json={"name": "to-revoke"}, headers=headers).json()
    secret, key_id = created["secret"], created["key"]["id"]
    assert requests.get(f"{gateway.url}/v1/auth/whoami", headers=bearer(secret)).status_code == 200
    revoked = requests.post(f"{gateway.url}/v1/api-keys/{key_id}:revoke", json={}, headers=headers)
    assert revoked.status_code == 200, revoked.text
    problem(requests.get(f"{gateway.url}/v1/auth/whoami", headers=bearer(secret)), 401)


def test_bad_json_and_unknown_fields_are_400_saying_what(gateway, platform):
    headers = {**bearer(platform.admin_key), "content-type": "application/json"}
    malformed = problem(requests.post(f"{gateway.url}/v1/tenants", data='{"name": }', headers=headers), 400)
    assert "line 1, column 10" in malformed["detail"]
    unknown = problem(requests.post(f"{gateway.url}/v1/tenants", json={"nmae": "x"}, headers=headers), 400)
    assert "nmae" in unknown["detail"]
    wrong_type = problem(requests.get(f"{gateway.url}/v1/users", params={"page_size": "ten"}, headers=headers), 400)
    assert "pageSize" in wrong_type["detail"]
    problem(requests.get(f"{gateway.url}/v1/users", params={"bogus": "1"}, headers=headers), 400)


def test_not_found_and_wrong_method(gateway, platform):
    headers = bearer(platform.admin_key)
    body = problem(requests.get(f"{gateway.url}/v1/users/{uuid.uuid4()}", headers=headers), 404)
    assert body["code"] == "NOT_FOUND"
    problem(requests.get(f"{gateway.url}/v1/nothing-here", headers=headers), 404)
    wrong = problem(requests.put(f"{gateway.url}/v1/users/x", headers=headers), 405)
    assert wrong["code"] == "UNIMPLEMENTED"


def test_rate_limit_is_429_with_retry_after(limited_gateway, platform):
    headers = bearer(platform.admin_key)
    statuses = [requests.get(f"{limited_gateway.url}/v1/auth/whoami", headers=headers) for _ in range(5)]
    assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
    limited = statuses[-1]
    problem(limited, 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 10


def test_metrics_count_routes_and_statuses(gateway, platform):
    requests.get(f"{gateway.url}/v1/auth/whoami", headers=bearer(platform.admin_key))
    text = requests.get(f"{gateway.url}/metrics").text
    assert "nimbus_gateway_requests_total" in text
    assert 'route="GET /v1/auth/whoami"' in text
