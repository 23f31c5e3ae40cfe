"""The web console in headless Chromium against the real gateway, identity and compute: sign
in, create a user and a key (its secret shown once), launch an instance from the form and watch
it reach RUNNING, read its logs and charts, terminate it, find it in the audit log; a viewer
sees no controls and the API refuses them anyway; a revoked key is signed out; API data is
shown as text; the page asks nothing of any other origin. Photographs the main pages."""
import http.client
import time
import uuid

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

import suite_support
from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, bearer, requested_urls

USER_PASSWORD, VIEWER_PASSWORD = suite_support.secret("a long enough password", "viewer password 1")
HOSTILE = '<img src=x onerror="window.__pwned=1"><b id="injected">bold</b>'


def wait(driver, timeout=40):
    return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,))


def visible(driver, css, timeout=40):
    return wait(driver, timeout).until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))


def text_appears(driver, css, text, timeout=40):
    wait(driver, timeout).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
    return driver.find_element(By.CSS_SELECTOR, css)


def go(driver, gateway, route):
    driver.execute_script("location.hash = arguments[0]", route)
    visible(driver, "main h1")


def sign_in(driver, gateway, email=ADMIN_EMAIL, password=ADMIN_PASSWORD):
    driver.get(f"{gateway.url}/console/")
    visible(driver, "#email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "sign-in").click()
    text_appears(driver, "main h1", "Overview")


def use_key(driver, gateway, key):
    driver.get(f"{gateway.url}/console/")
    visible(driver, "#api-key").send_keys(key)
    driver.find_element(By.ID, "use-key").click()
    text_appears(driver, "main h1", "Overview")


def photograph(driver, screenshots, name):
    time.sleep(0.3)  # let the last repaint land
    driver.save_screenshot(str(screenshots / f"{name}.png"))


def confirm(driver):
    visible(driver, "#confirm-ok").click()


def instance_row(driver, name):
    return driver.find_element(By.CSS_SELECTOR, f'#instance-list tr[data-name="{name}"]')


def state_of(driver, name):
    try:
        return instance_row(driver, name).find_element(By.CSS_SELECTOR, ".state").get_attribute("data-state")
    except Exception:
        return None


def assert_only_the_gateway(driver, gateway):
    urls = requested_urls(driver, gateway.url)
    assert any("/v1/" in u for u in urls) and any(u.endswith("/console/js/app.js") for u in urls), urls
    # data: URLs reach no origin (Chromium's own date-picker icon is one).
    others = [u for u in urls if not u.startswith(gateway.url + "/") and not u.startswith("data:")]
    assert not others, f"requests to other origins: {others}"


def assert_not_injected(driver):
    assert driver.execute_script("return window.__pwned") is None
    assert not driver.find_elements(By.ID, "injected")


def launch_via_api(gateway, key, name, **extra):
    body = {"name": name, "image": "busybox", "instanceType": "basic-1", "clientToken": str(uuid.uuid4()),
            "command": ["sh", "-c", "echo started; while true; do sleep 1; done"], **extra}
    response = requests.post(f"{gateway.url}/v1/instances", json=body, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


def terminate_via_api(gateway, key, instance_id):
    requests.delete(f"{gateway.url}/v1/instances/{instance_id}", headers=bearer(key))


def test_static_files_carry_strict_headers(gateway):
    page = requests.get(f"{gateway.url}/console/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    script = requests.get(f"{gateway.url}/console/js/app.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    again = requests.get(f"{gateway.url}/console/js/app.js", headers={"if-none-match": script.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    # Sent as written (requests would remove the dot segments before sending).
    for path in ["/console/../v1/openapi.json", "/console/%2e%2e/Package.swift", "/console/js/../../Package.swift",
                 "/console/..%2f..%2fPackage.swift"]:
        connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
        connection.request("GET", path)
        refused = connection.getresponse()
        assert refused.status == 404 and refused.getheader("content-type") == "application/problem+json", path
        connection.close()
    assert requests.get(f"{gateway.url}/", allow_redirects=False).headers["location"] == "/console/"


def test_admin_creates_a_user_and_a_key_launches_watches_and_terminates(browser, gateway, platform, compute, screenshots):
    driver = browser
    sign_in(driver, gateway)
    visible(driver, "#counts .tile")
    visible(driver, "#quota meter")
    photograph(driver, screenshots, "overview")

    # A user whose name is markup: it must show as the text it is.
    go(driver, gateway, "#/identity/users")
    email = f"dev-{uuid.uuid4().hex[:8]}@example.com"
    visible(driver, "#user-email").send_keys(email)
    driver.find_element(By.ID, "user-name").send_keys(HOSTILE)
    driver.find_element(By.ID, "user-password").send_keys(USER_PASSWORD)
    Select(driver.find_element(By.ID, "user-role")).select_by_value("developer")
    driver.find_element(By.ID, "create-user").click()
    row = visible(driver, f'#user-list tr[data-email="{email}"]')
    assert HOSTILE in row.text
    assert_not_injected(driver)

    # A key: the secret is shown once, then never again.
    go(driver, gateway, "#/identity/keys")
    key_name = f"ci-{uuid.uuid4().hex[:6]}"
    visible(driver, "#key-name").send_keys(key_name)
    driver.find_element(By.ID, "create-key").click()
    secret = visible(driver, "#secret-value").get_attribute("value")
    assert secret.startswith("nmb_")
    visible(driver, f'#key-list tr[data-name="{key_name}"]')
    assert requests.get(f"{gateway.url}/v1/auth/whoami", headers=bearer(secret)).status_code == 200
    photograph(driver, screenshots, "identity-keys")
    go(driver, gateway, "#/identity/users")
    go(driver, gateway, "#/identity/keys")
    visible(driver, f'#key-list tr[data-name="{key_name}"]')
    assert secret not in driver.page_source
    assert not driver.find_elements(By.ID, "secret-value")
    # Revoked from its row, it stops working.
    driver.find_element(By.CSS_SELECTOR, f'#key-list tr[data-name="{key_name}"] button').click()
    confirm(driver)
    text_appears(driver, f'#key-list tr[data-name="{key_name}"]', "Revoked")
    assert requests.get(f"{gateway.url}/v1/auth/whoami", headers=bearer(secret)).status_code == 401

    # A name the API refuses: the problem's detail is shown as a sentence, not markup.
    go(driver, gateway, "#/instances")
    visible(driver, "#launch-name").send_keys("<b id=injected>x</b>")
    driver.find_element(By.ID, "launch").click()
    error = text_appears(driver, "#launch-status .error", "must be 1–63")
    assert "lower-case" in error.text
    assert_not_injected(driver)

    # Launch from the form and watch it reach RUNNING without a reload.
    name = f"web-{uuid.uuid4().hex[:6]}"
    field = driver.find_element(By.ID, "launch-name")
    field.clear()
    field.send_keys(name)
    Select(driver.find_element(By.ID, "launch-image")).select_by_value("busybox")
    Select(driver.find_element(By.ID, "launch-type")).select_by_value("basic-1")
    driver.find_element(By.ID, "launch-ports").send_keys("8080")
    driver.find_element(By.ID, "launch-command").send_keys('sh -c "echo hello-from-the-console; while true; do sleep 1; done"')
    driver.find_element(By.ID, "launch-env").send_keys("GREETING=hi")
    driver.find_element(By.ID, "launch").click()
    wait(driver, 120).until(lambda d: state_of(d, name) == "RUNNING")
    text_appears(driver, "#launch-status", "is running", timeout=10)
    assert "127.0.0.1:" in instance_row(driver, name).text  # the published port
    photograph(driver, screenshots, "instances")
    # The same list on a phone.
    driver.set_window_size(390, 844)
    go(driver, gateway, "#/overview")
    go(driver, gateway, "#/instances")
    visible(driver, f'#instance-list tr[data-name="{name}"]')
    assert not driver.find_element(By.CSS_SELECTOR, "main details").get_attribute("open")  # the form folds away
    photograph(driver, screenshots, "instances-phone")
    driver.set_window_size(1280, 900)

    # Its page: logs that follow, charts from the stats RPC.
    instance_row(driver, name).find_element(By.CSS_SELECTOR, "a").click()
    text_appears(driver, "main h1", name)
    text_appears(driver, "#logs", "hello-from-the-console", timeout=30)
    wait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#charts svg polyline"))  # two samples drawn
    assert "GREETING" in driver.find_element(By.ID, "instance-summary").text
    driver.execute_script("document.getElementById('charts').scrollIntoView()")
    photograph(driver, screenshots, "instance")

    # Terminate, confirmed in a dialog; the state comes by itself.
    driver.execute_script("window.scrollTo(0, 0)")
    driver.find_element(By.CSS_SELECTOR, 'main .page-head button[data-action="terminate"]').click()
    confirm(driver)
    text_appears(driver, "main .page-head .state", "Terminated", timeout=90)

    # The audit log shows what happened (delivered by compute's outbox) and its chain verifies.
    go(driver, gateway, "#/audit")
    wait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, '#audit-list tr[data-action="instance.terminate"]'))
    assert driver.find_elements(By.CSS_SELECTOR, '#audit-list tr[data-action="instance.launch"]')
    assert driver.find_elements(By.CSS_SELECTOR, '#audit-list tr[data-action="user.create"]')
    driver.find_element(By.ID, "verify-chain").click()
    text_appears(driver, "#verify-result", "The chain verifies")
    photograph(driver, screenshots, "audit")

    assert_not_injected(driver)
    assert_only_the_gateway(driver, gateway)


def test_viewer_sees_no_controls_and_the_api_refuses_them(browser, gateway, platform, compute, screenshots):
    admin = bearer(platform.admin_key)
    email = f"viewer-{uuid.uuid4().hex[:8]}@example.com"
    created = requests.post(f"{gateway.url}/v1/users", headers=admin,
                            json={"email": email, "name": "Viewer", "password": VIEWER_PASSWORD, "role": "viewer"})
    assert created.status_code == 200, created.text
    name = f"labelled-{uuid.uuid4().hex[:6]}"
    instance = launch_via_api(gateway, platform.admin_key, name, labels={"note": HOSTILE})
    try:
        driver = browser
        sign_in(driver, gateway, email, VIEWER_PASSWORD)
        nav = driver.find_element(By.ID, "nav").text
        assert "Instances" in nav and "Audit log" not in nav

        go(driver, gateway, "#/instances")
        visible(driver, f'#instance-list tr[data-name="{name}"]')
        assert not driver.find_elements(By.ID, "launch-form")
        assert not driver.find_elements(By.CSS_SELECTOR, "#instance-list button")

        # The API refuses what the page hides, asked with the viewer's own key from the page.
        status = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/v1/instances', {method: 'POST', headers: {authorization: 'Bearer ' + sessionStorage.getItem('nimbus.console.key'),
              'content-type': 'application/json'}, body: JSON.stringify({name: 'sneaky', image: 'busybox'})})
              .then((r) => done(r.status), () => done(-1));""")
        assert status == 403

        # The label holding markup is shown as text on the instance's page.
        go(driver, gateway, f"#/instances/{instance['id']}")
        labels = visible(driver, "#labels")
        assert HOSTILE in labels.text
        assert not driver.find_elements(By.CSS_SELECTOR, "main .page-head button")
        assert_not_injected(driver)

        go(driver, gateway, "#/identity/users")
        visible(driver, "#identity-body")
        assert not driver.find_elements(By.ID, "user-form")
        assert "Users" not in driver.find_element(By.CSS_SELECTOR, "nav.tabs").text  # viewers lack iam:read
        assert_only_the_gateway(driver, gateway)
    finally:
        terminate_via_api(gateway, platform.admin_key, instance["id"])


def test_a_revoked_key_is_signed_out_on_its_next_request(browser, gateway, platform):
    created = requests.post(f"{gateway.url}/v1/api-keys", json={"name": "console-revoke"}, headers=bearer(platform.admin_key)).json()
    driver = browser
    use_key(driver, gateway, created["secret"])
    go(driver, gateway, "#/identity/keys")
    requests.post(f"{gateway.url}/v1/api-keys/{created['key']['id']}:revoke", json={}, headers=bearer(platform.admin_key)).raise_for_status()
    driver.execute_script("location.hash = '#/instances'")
    text_appears(driver, "#sign-in-status", "Please sign in again")
    visible(driver, "#email")
    assert driver.execute_script("return sessionStorage.getItem('nimbus.console.key')") is None
    assert_only_the_gateway(driver, gateway)


def test_sign_in_errors_are_sentences_and_sign_out_revokes_the_session_key(browser, gateway, platform):
    driver = browser
    driver.get(f"{gateway.url}/console/")
    visible(driver, "#email")
    # A figure for the record (printed with -s), not a timed assertion: when the form was usable.
    ready = driver.execute_script("return [performance.getEntriesByName('nimbus:sign-in-ready')[0].startTime, "
                                  "performance.getEntriesByType('navigation')[0].domInteractive]")
    print(f"console: sign-in form ready {ready[0]:.0f} ms after navigation (DOM interactive at {ready[1]:.0f} ms)")
    driver.refresh()  # again, revalidating every file by its ETag
    visible(driver, "#email")
    ready = driver.execute_script("return [performance.getEntriesByName('nimbus:sign-in-ready')[0].startTime, "
                                  "performance.getEntriesByType('navigation')[0].domInteractive]")
    print(f"console: reloaded, sign-in form ready {ready[0]:.0f} ms after navigation (DOM interactive at {ready[1]:.0f} ms)")
    driver.find_element(By.ID, "email").send_keys(ADMIN_EMAIL)
    driver.find_element(By.ID, "password").send_keys("not the password")
    driver.find_element(By.ID, "sign-in").click()
    text_appears(driver, "#sign-in-status .error", "Wrong email, password or key.")

    driver.find_element(By.ID, "password").clear()
    driver.find_element(By.ID, "password").send_keys(ADMIN_PASSWORD)
    driver.find_element(By.ID, "sign-in").click()
    text_appears(driver, "main h1", "Overview")
    key = driver.execute_script("return sessionStorage.getItem('nimbus.console.key')")
    assert requests.get(f"{gateway.url}/v1/auth/whoami", headers=bearer(key)).status_code == 200
    driver.find_element(By.ID, "sign-out").click()
    text_appears(driver, "#sign-in-status", "You are signed out.")
    assert requests.get(f"{gateway.url}/v1/auth/whoami", headers=bearer(key)).status_code == 401


def test_a_vpc_is_created_and_deleted_from_its_page(browser, gateway, platform, compute):
    driver = browser
    sign_in(driver, gateway)
    go(driver, gateway, "#/vpcs")
    name = f"net-{uuid.uuid4().hex[:6]}"
    octet = int(uuid.uuid4().hex[:2], 16) % 200 + 20
    visible(driver, "#vpc-name").send_keys(name)
    driver.find_element(By.ID, "vpc-cidr").send_keys(f"10.{octet}.7.0/24")
    driver.find_element(By.CSS_SELECTOR, "#vpc-form button[type=submit]").click()
    row = visible(driver, f'#vpc-list tr[data-name="{name}"]', timeout=60)
    assert f"10.{octet}.7.0/24" in row.text
    # A bad CIDR is refused with the service's reason, shown next to the form.
    driver.find_element(By.ID, "vpc-name").send_keys(f"{name}-bad")
    driver.find_element(By.ID, "vpc-cidr").send_keys("10.0.0.0/8")
    driver.find_element(By.CSS_SELECTOR, "#vpc-form button[type=submit]").click()
    text_appears(driver, "#vpc-form .error", "/16 to /28")
    row.find_element(By.CSS_SELECTOR, "button").click()
    confirm(driver)
    wait(driver, 60).until(lambda d: not d.find_elements(By.CSS_SELECTOR, f'#vpc-list tr[data-name="{name}"]'))
    assert_only_the_gateway(driver, gateway)
