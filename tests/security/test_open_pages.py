"""Open pages never starve the API: each holds a server thread through its Socket.IO
connection, so pages beyond the threads kept for them get a 503 (no live news) instead of
taking the threads requests need (benchmarks/idle_pages.py measures it with 500 pages)."""

import pytest
import requests
import socketio

from tests.support.processes import Server, wait_until


@pytest.fixture
def small_server(tmp_path):
    # 66 threads: 2 for open pages, 64 kept for requests.
    server = Server(tmp_path / "jobs", workers=False, env={"DIGITS_WEB_THREADS": "66"})
    yield server
    server.discard()


def test_pages_beyond_the_limit_are_refused_and_requests_still_answer(small_server):
    pages = []
    for _ in range(2):
        page = socketio.Client(reconnection=False)
        page.connect(small_server.url, namespaces=["/jobs"], transports=["websocket"])
        pages.append(page)
    extra = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        extra.connect(small_server.url, namespaces=["/jobs"], transports=["polling"])
    response = requests.get(small_server.url + "/socket.io/?EIO=4&transport=polling")
    assert response.status_code == 503 and "too many pages" in response.text
    assert requests.get(small_server.url + "/index.json", timeout=5).status_code == 200
    pages.pop().disconnect()  # a page closed: room for another, once the server has seen it
    wait_until(lambda: requests.get(small_server.url + "/socket.io/?EIO=4&transport=polling").ok)
    for page in pages:
        page.disconnect()
