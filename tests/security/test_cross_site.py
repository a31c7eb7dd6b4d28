"""What another web site can make a visitor's browser do to a local DIGITS: nothing.

Each test first shows the request doing its work when it comes from our own page (or from a
script, which is no browser), then the same request from another site refused."""

import pytest
import requests
import socketio

EVIL = "http://evil.example"
# Code that says it ran (in its error: the sandbox lets it write nowhere the test could look).
MARKER_CODE = "raise ValueError('the code ran')\n"


def visualize(server, **headers):
    return requests.post(
        server.url + "/models/visualize-network.json",
        headers=headers,
        data={"custom_network": MARKER_CODE, "username": "fred"},
    )


def test_a_cross_site_form_post_runs_no_code(server):
    refused = visualize(server, Origin=EVIL)
    assert refused.status_code == 403 and "another site" in refused.text
    fetched = visualize(server, **{"Sec-Fetch-Site": "cross-site"})
    assert fetched.status_code == 403 and "the code ran" not in fetched.text
    same_origin = visualize(server, Origin=server.url, **{"Sec-Fetch-Site": "same-origin"})
    assert same_origin.status_code == 400 and "the code ran" in same_origin.text


def test_a_name_rebound_to_loopback_is_refused(server):
    """DNS rebinding: evil.example now resolves to 127.0.0.1; its pages are same-origin with
    the server, but every request names evil.example as its Host."""
    headers = {"Host": f"evil.example:{server.port}"}
    assert requests.get(server.url + "/index.json", headers=headers).status_code == 403
    polling = requests.get(server.url + "/socket.io/?EIO=4&transport=polling", headers=headers)
    assert polling.status_code == 403
    assert requests.get(server.url + "/index.json", headers={"Host": "localhost"}).ok


@pytest.mark.parametrize("origin", [EVIL, "null", "http://127.0.0.1:1"])
def test_socketio_refuses_other_origins(server, origin):
    # Long-polling: the websocket client would add an Origin of its own to the one given.
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(
            server.url, namespaces=["/jobs"], transports=["polling"], headers={"Origin": origin}
        )
    own = socketio.Client(reconnection=False)
    own.connect(
        server.url, namespaces=["/jobs"], transports=["polling"], headers={"Origin": server.url}
    )
    joined = own.call("join", {"room": "job_management"}, namespace="/jobs", timeout=5)
    assert joined == {"room": "job_management"}
    own.disconnect()


def test_logging_out_takes_a_post(server):
    session = requests.Session()
    session.post(server.url + "/login", data={"username": "fred"})
    assert session.get(server.url + "/logout").status_code == 405  # an <img> cannot log out
    assert session.post(server.url + "/logout.json").json() == {"username": None}


def test_session_cookies_are_same_site_and_secure_over_https(server):
    plain = requests.post(
        server.url + "/login", data={"username": "fred"}, allow_redirects=False
    ).headers["Set-Cookie"]
    assert "SameSite=Lax" in plain and "HttpOnly" in plain and "Secure" not in plain
    proxied = requests.post(
        server.url + "/login",
        data={"username": "fred"},
        headers={"X-Forwarded-Proto": "https"},
        allow_redirects=False,
    ).headers["Set-Cookie"]
    assert "Secure" in proxied


def test_with_accounts_only_a_user_may_listen(tmp_path):
    from tests.support.processes import Server
    from tests.support.users import add_users

    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    token = add_users(jobs_dir).new_token("ann")
    server = Server(jobs_dir, workers=False)
    try:
        anonymous = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            anonymous.connect(server.url, namespaces=["/jobs"], transports=["polling"])
        ann = socketio.Client(reconnection=False)
        ann.connect(
            server.url,
            namespaces=["/jobs"],
            transports=["polling"],
            headers={"Authorization": f"Bearer {token}"},
        )
        joined = ann.call("join", {"room": "job_management"}, namespace="/jobs", timeout=5)
        assert joined == {"room": "job_management"}
        ann.disconnect()
    finally:
        server.discard()
