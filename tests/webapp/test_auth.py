def test_login_sets_the_user_shown_on_pages(client):
    response = client.post("/login", data={"username": "fred"})
    assert response.status_code == 302
    assert b'data-role="username">fred<' in client.get("/").data


def test_login_json_and_logout(client):
    assert client.post("/login.json", data={"username": "fred"}).get_json()["username"] == "fred"
    client.post("/logout")
    assert client.post("/test/countdown.json").status_code == 401


def test_invalid_usernames_are_refused_with_the_rule(client):
    for name in ("", "Fred", "1fred", "fred smith", "fred/../x"):
        response = client.post("/login.json", data={"username": name})
        assert response.status_code == 400
        assert "lowercase letter" in response.get_json()["errors"]["username"][0]
    page = client.post("/login", data={"username": "Fred"})
    assert page.status_code == 400 and b"lowercase letter" in page.data


def test_login_redirects_only_within_the_site(client):
    ok = client.post("/login", data={"username": "fred", "next": "/models/x"})
    assert ok.headers["Location"] == "/models/x"
    evil = client.post("/login", data={"username": "fred", "next": "//evil.example/"})
    assert evil.headers["Location"] == "/"


def test_mutating_routes_need_a_user(client):
    assert client.post("/test/countdown.json").status_code == 401
    assert client.delete("/jobs/20250101-000000-abcd").status_code == 401
    assert client.put("/jobs/20250101-000000-abcd", data={"job_name": "x"}).status_code == 401
    html = client.post("/jobs/20250101-000000-abcd/abort")
    assert html.status_code == 302 and html.headers["Location"].startswith("/login")


def test_username_field_stands_in_for_the_cookie(client):
    response = client.post("/test/countdown.json", data={"username": "fred", "steps": "1"})
    assert response.status_code == 200
    job_id = response.get_json()["id"]
    assert client.get(f"/jobs/{job_id}.json").get_json()["owner"] == "fred"
