"""What every end-to-end suite shares (import it as `suite_support`; each suite's own helpers
live in its conftest.py):

- `service_dsn`: a service's own schema and login role (`nimbus-<svc> db-bootstrap`, as
  scripts/up.sh and the deploy files do), so services never run as the superuser here either;
- the secrets a run creates (`secret`) and where services write (`logs`, `cli_config`): after
  the whole session, Tests/python/conftest.py searches every service log and CLI config for
  every secret and fails the run if one shows (`scan`)."""
import os
import re
import secrets as random_secrets
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("NIMBUS_BIN", ROOT / ".build" / "debug"))
if not BIN.is_absolute():
    BIN = ROOT / BIN

# An API key's secret form (nmb_<prefix>_<secret>): wherever one shows in a log, it leaked.
API_KEY = re.compile(r"nmb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}")

_secrets = set()
_log_dirs = set()
_cli_configs = {}  # path → the one API key it is meant to hold


def secret(*values):
    """Registers values that must never appear in a service log or a CLI config."""
    for value in values:
        if value and len(value) >= 8:
            _secrets.add(value)
    return values[0] if len(values) == 1 else values


def logs(directory):
    """Registers a directory whose files (recursively) are service logs."""
    _log_dirs.add(Path(directory))
    return directory


def cli_config(path, api_key):
    """Registers a CLI config file; it may hold `api_key` (that is its job) and no other secret."""
    _cli_configs[Path(path)] = api_key


def service_dsn(admin_dsn, service, schema):
    """The service's login role DSN, made by `nimbus-<service> db-bootstrap` with the admin DSN."""
    password = secret(random_secrets.token_hex(16))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIMBUS_") and k != "DATABASE_URL"}
    env.update({"NIMBUS_ADMIN_DATABASE_URL": admin_dsn, "NIMBUS_ROLE_PASSWORD": password})
    boot = subprocess.run([str(BIN / service), "db-bootstrap"], env=env, capture_output=True, text=True, timeout=120)
    assert boot.returncode == 0, f"{service} db-bootstrap: {boot.stdout}{boot.stderr}"
    assert password not in boot.stdout + boot.stderr
    admin = urlsplit(admin_dsn)
    secret(admin.password)
    return f"postgresql://{schema}:{quote(password)}@{admin.hostname}:{admin.port}{admin.path or '/postgres'}"


def scan():
    """[(file, what leaked)] over every registered log and CLI config."""
    leaks = []
    values = sorted(_secrets)
    files = [f for d in _log_dirs if d.exists() for f in d.rglob("*") if f.is_file()]
    for path in files:
        text = path.read_text(errors="replace")
        leaks += [(path, f"secret {v[:4]}…") for v in values if v in text]
        leaks += [(path, f"API key {m[:16]}…") for m in set(API_KEY.findall(text))]
    for path, allowed in _cli_configs.items():
        if not path.exists():
            continue
        text = path.read_text(errors="replace")
        leaks += [(path, f"secret {v[:4]}…") for v in values if v in text and v != allowed]
        leaks += [(path, f"API key {m[:16]}…") for m in set(API_KEY.findall(text)) if m != allowed]
    return leaks


def scanned():
    return len(_secrets), sum(1 for d in _log_dirs if d.exists() for f in d.rglob("*") if f.is_file()), len(_cli_configs)
