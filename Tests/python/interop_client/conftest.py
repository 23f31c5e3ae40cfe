"""The grpcio Echo server the Swift client tests talk to, checked here with grpcio's own client
so a Swift failure can be trusted to be the Swift client's."""
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def echo_server():
    process = subprocess.Popen([sys.executable, str(HERE / "echo_server.py")], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("READY "):
        process.kill()
        pytest.fail(f"echo_server.py did not start: {line!r}")
    port = int(dict(field.split("=", 1) for field in line.split()[1:])["port"])
    yield port
    process.kill()
    process.wait()


@pytest.fixture(scope="module")
def stubs():
    """echo_pb2 / echo_pb2_grpc generated at test time, like the server does."""
    sys.path.insert(0, str(HERE))
    import echo_server  # noqa: E402

    return echo_server.load_stubs()
