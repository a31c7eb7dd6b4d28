import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "support"))

from processes import RedisServer  # noqa: E402

from digits.config import Settings  # noqa: E402
from digits.webapp import create_app  # noqa: E402


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
        jobs_dir=jobs_dir, secret_key="tests", plugins=("countdown_job",), data_roots=(data_dir,)
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
