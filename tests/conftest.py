import itertools
from pathlib import Path

import pytest

from digits.config import Settings
from digits.webapp import create_app
from tests.support.processes import PLUGIN, RedisServer, Server, data_roots_of
from tests.support.stacks import EventRecorder, build_stack, teardown_stack


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "jobs"
    folder.mkdir()
    return folder


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The data root that servers in the tests allow (see processes.data_roots_of)."""
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def settings(jobs_dir: Path, data_dir: Path) -> Settings:
    return Settings(
        jobs_dir=jobs_dir, secret_key="tests", plugins=(PLUGIN,), data_roots=(data_dir,)
    )


@pytest.fixture
def app(settings: Settings):
    return create_app(settings, {"TESTING": True, "HOUSEKEEPING": False})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def fred(client):
    """A client logged in as fred."""
    client.post("/login", data={"username": "fred"})
    return client


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


_redis_db = itertools.count(1)


@pytest.fixture(params=["embedded", "redis"])
def broker_url(request):
    if request.param == "embedded":
        return None
    server = request.getfixturevalue("redis_server")
    return f"{server.url[:-2]}/{next(_redis_db)}"


@pytest.fixture
def stack(tmp_path, broker_url):
    """`digits serve` with a separate `digits worker`, the layout of a multi-host install."""
    built = build_stack(tmp_path, broker_url, own_workers=False)
    yield built
    teardown_stack(built)


@pytest.fixture
def recorder_factory():
    recorders = []

    def make(url: str) -> EventRecorder:
        recorders.append(EventRecorder(url))
        return recorders[-1]

    yield make
    for recorder in recorders:
        recorder.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    """The default install, shared by a module's tests: `digits serve` with its own workers,
    a data root beside its jobs folder (`server.data`)."""
    jobs_dir = tmp_path_factory.mktemp("server") / "jobs"
    data_roots_of(jobs_dir).mkdir(parents=True)
    running = Server(jobs_dir)
    running.jobs_dir, running.data = jobs_dir, data_roots_of(jobs_dir)
    yield running
    running.discard()


# What `pytest -m "not slow"` leaves out: real servers, workers, brokers, browsers and sandboxes
# started per test. The fast loop keeps every unit and Flask-client test (a few minutes).
SLOW_FOLDERS = {"browser", "integration", "faults", "gpu"}
SLOW_FIXTURES = {"stack", "server", "redis_server", "broker_url"}


def pytest_collection_modifyitems(items):
    for item in items:
        folder = Path(item.path).parent.name
        if (
            folder in SLOW_FOLDERS
            or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
            or item.get_closest_marker("slow")
        ):
            item.add_marker(pytest.mark.slow)
