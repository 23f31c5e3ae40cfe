"""Fixtures for the console suite: the gateway suite's platform (PostgreSQL, identity, compute
on podman, the gateway; Tests/python/gateway/conftest.py, loaded under its own name so it is
not edited) and headless Chromium driven by Selenium, recording its network traffic."""
import importlib.util
import json
import os
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("nimbus_gateway_fixtures", Path(__file__).parents[1] / "gateway" / "conftest.py")
platform_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(platform_fixtures)

# The same fixtures (platform, gateway and what they stand on), in this directory's scope.
for _name, _value in vars(platform_fixtures).items():
    if hasattr(_value, "_fixture_function_marker") or hasattr(_value, "_pytestfixturefunction"):
        globals()[_name] = _value
ADMIN_EMAIL = platform_fixtures.ADMIN_EMAIL
ADMIN_PASSWORD = platform_fixtures.ADMIN_PASSWORD
ROOT = platform_fixtures.ROOT
bearer = platform_fixtures.bearer

CHROMIUM = os.environ.get("NIMBUS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("NIMBUS_CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def compute(platform):
    """The console's instance pages need compute; without it the suite fails rather than skips."""
    assert platform.compute, "nimbus-compute did not start (podman unavailable?): see the gateway fixtures' log"
    return platform.compute[0]


@pytest.fixture(scope="session")
def screenshots():
    """Where the main pages are photographed: NIMBUS_SCREENSHOTS (docs/screenshots refreshes the
    committed ones: `make screenshots`), else a folder under .build."""
    directory = Path(os.environ.get("NIMBUS_SCREENSHOTS") or ROOT / ".build" / "screenshots" / "console")
    if not directory.is_absolute():
        directory = ROOT / directory
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "call":
        item.console_failed = outcome.get_result().failed


@pytest.fixture
def browser(request, tmp_path):
    """A fresh headless Chromium (its own profile: empty session storage) with the performance
    log on, so tests can list every request the page made."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", "--no-first-run", "--no-default-browser-check",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-default-apps", "--disable-extensions", "--force-prefers-reduced-motion",
                     f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log")))
    driver.set_page_load_timeout(30)
    driver.requests_seen = []
    yield driver
    if getattr(request.node, "console_failed", False):
        # What the page showed and said, for the failure report.
        driver.save_screenshot(str(tmp_path / "failure.png"))
        print(f"page {driver.current_url}, screenshot {tmp_path / 'failure.png'}")
        print("main:", driver.find_element("css selector", "main").text[:3000])
        for entry in driver.get_log("browser"):
            print("browser:", entry.get("level"), entry.get("message"))
    driver.quit()


def requested_urls(driver, origin):
    """Every URL that pages loaded from `origin` asked for, their own loads included (from
    Chrome's performance log; the browser's own start page is not the console's doing)."""
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            params = message["params"]
            if params.get("documentURL", "").startswith(origin + "/"):
                driver.requests_seen.append(params["request"]["url"])
    return driver.requests_seen
