"""Authentication, CSRF, login throttling, API tokens and project scoping."""
from datetime import timedelta

from flask_jwt_extended import create_access_token

from tests.conftest import PASSWORD, csrf_token_from


def test_pages_send_anonymous_users_to_login(client):
    for path in ("/", "/orgunits/", "/teams/", "/jobs"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


def test_wrong_password_is_refused_with_a_message(client, make_user):
    user = make_user()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": user.username, "password": "nope", "csrf_token": token})
    assert response.status_code == 401
    assert "Invalid username or password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still anonymous


def test_login_then_logout(client, make_user, login, csrf):
    user = make_user()
    login(user)
    page = client.get("/").get_data(as_text=True)
    assert user.username in page
    response = client.post("/logout", data={"csrf_token": csrf()})
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(client, make_user):
    user = make_user()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_htmx_post_without_csrf_header_is_refused(client, make_user, login):
    user = make_user(role="admin")
    login(user)
    response = client.post("/logout", headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#toasts"
    assert client.get("/").status_code == 200  # still logged in: nothing happened


def test_logout_is_not_a_get(client, make_user, login):
    login(make_user())
    assert client.get("/logout").status_code == 405


def test_login_is_throttled_after_repeated_failures(client, make_user):
    user = make_user()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    for _ in range(5):
        assert client.post("/login", data={"username": user.username, "password": "bad", "csrf_token": token}).status_code == 401
    response = client.post("/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 429
    assert "Too many failed logins" in response.get_data(as_text=True)
    api = client.post("/api/auth/token", json={"username": user.username, "password": PASSWORD})
    assert api.status_code == 429
    assert int(api.headers["Retry-After"]) > 0


def test_open_redirect_after_login_is_refused(client, make_user):
    user = make_user()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=//evil.example/x",
                           data={"username": user.username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_inactive_user_cannot_log_in(client, make_user, db):
    user = make_user()
    user.active = False
    db.session.commit()
    assert client.post("/api/auth/token", json={"username": user.username, "password": PASSWORD}).status_code == 401


def test_token_endpoint(client, make_user):
    user = make_user()
    response = client.post("/api/auth/token", json={"username": user.username, "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["expires_in"] == 3600
    me = client.get("/api/me/", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.get_json()["username"] == user.username


def test_token_endpoint_bad_input_names_fields(client):
    response = client.post("/api/auth/token", json={"username": ""})
    assert response.status_code == 400
    assert (set(response.get_json()["details"]) - {"code"}) == {"username", "password"}
    assert client.post("/api/auth/token", data="not json").status_code == 400


def test_api_refuses_missing_expired_and_forged_tokens(client, make_user, app):
    user = make_user()
    assert client.get("/api/orgunits/").status_code == 401
    expired = create_access_token(identity=str(user.id), additional_claims={"scope": "user"},
                                  expires_delta=timedelta(seconds=-10))
    response = client.get("/api/orgunits/", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert "expired" in response.get_json()["error"].lower()
    forged = expired[:-4] + "abcd"
    assert client.get("/api/orgunits/", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    # A session cookie is not enough for the JSON API: Bearer only.
    assert client.get("/api/orgunits/", headers={"Cookie": "session=whatever"}).status_code == 401


def test_token_with_another_scope_is_refused(client, make_user):
    user = make_user()
    other = create_access_token(identity=str(user.id), additional_claims={"scope": "pipeline"})
    assert client.get("/api/orgunits/", headers={"Authorization": f"Bearer {other}"}).status_code == 403


def test_cli_creates_users(runner, db):
    from app.models import User

    result = runner.invoke(args=["users", "create", "--username", "nurse", "--password", "longenough",
                                 "--role", "agent", "--project", "North"])
    assert result.exit_code == 0, result.output
    user = db.session.query(User).filter_by(username="nurse").one()
    assert [p.name for p in user.projects] == ["North"]
    assert user.password_hash != "longenough"
    short = runner.invoke(args=["users", "create", "--username", "x", "--password", "short", "--role", "agent"])
    assert short.exit_code == 1 and "password: string should have at least 8 characters" in short.output
    wizard = runner.invoke(args=["users", "create", "--username", "x", "--password", "longenough", "--role", "wizard"])
    assert wizard.exit_code == 1 and "role: unknown role 'wizard'" in wizard.output
    nul = runner.invoke(args=["users", "create", "--username", "a\x00b", "--password", "longenough", "--role", "agent",
                              "--full-name", "x" * 1000])
    assert nul.exit_code == 1 and "Traceback" not in nul.output
    assert "username: must not contain a NUL character" in nul.output and "full_name" in nul.output
    assert db.session.query(User).count() == 1
