"""Policies every Python suite inherits (pytest loads this before any suite's own conftest).

A skip is a decision, not an accident: a test may skip only when allowed_skips.txt lists it
(with the reason); any other skip fails the run, so a component that failed to start can
never pass for a green suite. Order is random (pytest-randomly, seed printed at the end).
After the whole session, every service log and CLI config the suites registered is searched
for every secret the run created (suite_support): one found fails the run."""
import fnmatch
from pathlib import Path

import pytest

import suite_support

HERE = Path(__file__).resolve().parent
ALLOWED_SKIPS = HERE / "allowed_skips.txt"


def allowed_skip_patterns():
    patterns = []
    for line in ALLOWED_SKIPS.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pattern, _, reason = line.partition("|")
        assert reason.strip(), f"{ALLOWED_SKIPS.name}: every allowed skip says why: {line!r}"
        patterns.append(pattern.strip())
    return patterns


def suite_relative(nodeid):
    """The node id relative to Tests/python, whatever directory pytest was started from."""
    return nodeid.split("Tests/python/", 1)[-1]


def is_allowed_skip(nodeid, patterns):
    return any(fnmatch.fnmatchcase(suite_relative(nodeid), p) for p in patterns)


class SkipPolicy:
    """Records every skip (and xfail) that allowed_skips.txt does not list; the session then fails."""

    def __init__(self, config):
        self.config = config
        self.allowed = allowed_skip_patterns()
        self.unlisted = []

    def record(self, report):
        # An expected failure hides a test as well as a skip does: it must be listed too.
        if report.skipped and not is_allowed_skip(report.nodeid, self.allowed):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            self.unlisted.append((report.nodeid, reason))

    def pytest_runtest_logreport(self, report):
        self.record(report)

    def pytest_collectreport(self, report):
        self.record(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if self.unlisted and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        if self.unlisted:
            terminalreporter.section("skips not listed in Tests/python/allowed_skips.txt: the run fails", red=True)
            for nodeid, reason in self.unlisted:
                terminalreporter.line(f"{nodeid}: {reason}", red=True)
        seed = getattr(self.config.option, "randomly_seed", None)
        if seed is not None:
            terminalreporter.line(f"random order: -p randomly --randomly-seed={seed} repeats this order")


class SecretScan:
    """No secret in a log line: searched once every service has stopped (session teardown)."""

    def __init__(self):
        self.leaks = None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        self.leaks = suite_support.scan()
        if self.leaks and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        if self.leaks:
            terminalreporter.section("secrets found in service logs or CLI configs: the run fails", red=True)
            for path, what in self.leaks:
                terminalreporter.line(f"{path}: {what}", red=True)
        elif self.leaks is not None:
            count, files, configs = suite_support.scanned()
            if files or configs:
                terminalreporter.line(f"secret scan: {count} secrets and API keys in {files} log files and {configs} CLI configs: none found")


def pytest_configure(config):
    config.pluginmanager.register(SkipPolicy(config), "nimbus-skip-policy")
    config.pluginmanager.register(SecretScan(), "nimbus-secret-scan")
