"""The smaller ways one user could spoil a shared server for the others, each one an attack that
worked before: giant names, hidden files read as data, a redirect to another site after login,
Unicode digits that made a 500, snapshots every step, framing, a `Host` that only looked local,
a `digits/` folder where `serve` starts, anonymous sockets and clients that send slowly."""

import socket
import time

import pytest
import requests

from digits.forms import MAX_NAME_LENGTH, MAX_NOTES_LENGTH
from digits.http_worker import HEAD_SECONDS
from tests.support.model_forms import MODELS, done_dataset, errors_of, model_fields, stored_job
from tests.support.processes import Server, data_roots_of, wait_until

DATASETS = "/datasets/images/classification.json"


@pytest.fixture
def dataset(app) -> str:
    return done_dataset(app.extensions["digits"].store)


def test_a_job_name_or_notes_cannot_weigh_on_every_home_page(fred, dataset):
    huge = "x" * (MAX_NAME_LENGTH + 1)
    errors = errors_of(fred.post(MODELS, data=model_fields(dataset, model_name=huge)))
    assert errors["model_name"] == [f"at most {MAX_NAME_LENGTH} characters"]
    errors = errors_of(fred.post(DATASETS, data={"dataset_name": huge, "method": "folder"}))
    assert errors["dataset_name"] == [f"at most {MAX_NAME_LENGTH} characters"]
    assert fred.get("/index.json").get_json()["models"] == []

    renamed = fred.put(f"/jobs/{dataset}", data={"job_name": huge})
    assert renamed.status_code == 400 and "job_name" in renamed.get_json()["errors"]
    noted = fred.put(f"/jobs/{dataset}", data={"job_notes": "n" * (MAX_NOTES_LENGTH + 1)})
    assert noted.status_code == 400 and "job_notes" in noted.get_json()["errors"]
    assert fred.put(f"/jobs/{dataset}", data={"job_name": "  a   fine name "}).status_code == 200
    assert fred.get(f"/datasets/{dataset}.json").get_json()["name"] == "a fine name"


def test_hidden_files_under_a_data_root_are_no_ones_images(fred, data_dir):
    secret = data_dir / ".ssh" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    fields = {
        "dataset_name": "keys",
        "method": "textfile",
        "textfile_local_labels_file": str(secret),
    }
    errors = errors_of(fred.post(DATASETS, data=fields))
    [message] = errors["textfile_local_labels_file"]
    assert "hidden" in message and "PRIVATE KEY" not in message


@pytest.mark.parametrize(
    "target", ["/%09/evil.example/", "//evil.example/", "/\\evil.example", "/\n/evil.example"]
)
def test_logging_in_never_sends_a_user_to_another_site(client, target):
    response = client.post(f"/login?next={target}", data={"username": "fred"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    kept = client.post("/login?next=/models/x%3Fa", data={"username": "fred"})
    assert kept.headers["Location"] == "/models/x?a"


@pytest.mark.parametrize(
    "field",
    [{"select_gpus": "vm:²"}, {"probe_records": "²"}, {"select_gpus": "²"}],
)
def test_unicode_digits_are_a_400_naming_the_field(fred, dataset, field):
    response = fred.post(MODELS, data=model_fields(dataset, **field))
    assert response.status_code == 400
    assert set(field) <= set(response.get_json()["errors"])


def test_visualize_refuses_sizes_it_would_not_draw_before_any_work(fred):
    for fields in ({"height": "²"}, {"height": "4096", "width": "4096"}, {"channels": "9"}):
        answer = fred.post("/models/visualize-network.json", data=fields)
        assert answer.status_code == 400, fields
        assert set(answer.get_json()["errors"]) & {"height", "width", "channels"}


def test_a_snapshot_every_step_is_refused(fred, dataset):
    errors = errors_of(fred.post(MODELS, data=model_fields(dataset, snapshot_interval="1e-300")))
    assert "snapshot_interval" in errors
    assert fred.post(MODELS, data=model_fields(dataset, snapshot_interval="0.5")).status_code in (
        200,
        302,
    )


def test_no_other_site_can_frame_a_page(client, app):
    stored_job(app.extensions["digits"].store, "dataset")
    for url in ("/", "/login", "/index.json"):
        response = client.get(url)
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("host", ["[::1]evil", "[::1]:5000evil", "localhost evil", "127.0.0.1:x"])
def test_a_host_that_only_looks_local_is_refused(client, host):
    assert client.get("/index.json", headers={"Host": host}).status_code == 403
    assert client.get("/index.json", headers={"Host": "[::1]:5000"}).status_code == 200


def test_a_digits_folder_where_serve_starts_does_not_replace_the_workers(tmp_path):
    """Workers used to run `python -m digits` from the folder `serve` was started in."""
    here = tmp_path / "somewhere"
    (here / "digits").mkdir(parents=True)
    marker = tmp_path / "imported"
    (here / "digits" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    (here / "digits" / "__main__.py").write_text("raise SystemExit('not the product')\n")
    jobs_dir = tmp_path / "jobs"
    data_roots_of(jobs_dir).mkdir(parents=True)
    server = Server(jobs_dir, cwd=here)  # waits for its three workers to say they are ready
    try:
        assert server.alive() and not marker.exists()
    finally:
        server.discard()


def test_with_accounts_an_anonymous_socket_takes_no_live_page_slot(app, jobs_dir):
    from digits.webapp.realtime import _open_pages
    from tests.support.users import add_users, log_in

    add_users(jobs_dir)
    handshake = "/socket.io/?EIO=4&transport=polling"
    anonymous, before = app.test_client(), _open_pages()
    for _ in range(3):
        assert anonymous.get(handshake).status_code == 401
    assert _open_pages() == before
    fred = app.test_client()
    log_in(fred, "fred")
    assert fred.get(handshake).status_code == 200
    assert _open_pages() == before + 1


def slow_client(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(b"GET /index.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-slow: ")
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.05)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def test_slow_clients_hold_no_thread_and_are_closed(tmp_path):
    # 70 threads: ten times as many slow clients as threads once held every one of them.
    jobs_dir = tmp_path / "jobs"
    server = Server(jobs_dir, workers=False, env={"DIGITS_WEB_THREADS": "70"})
    try:
        clients = [slow_client(server) for _ in range(700)]
        for client in clients:
            client.sendall(b"a")  # a byte now and then, never the end of the head
        started = time.monotonic()
        answer = requests.get(server.url + "/index.json", timeout=5)
        assert answer.status_code == 200 and time.monotonic() - started < 2
        wait_until(lambda: all(closed_by_server(c) for c in clients), HEAD_SECONDS + 10, 0.5)
        assert requests.get(server.url + "/index.json", timeout=5).status_code == 200
    finally:
        server.discard()
