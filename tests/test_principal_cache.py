"""The user a request acts as is reused between requests while nothing about it changed (`principals`):
whatever changes it — through the ORM, a Core statement or psql — counts from the very next request."""
from __future__ import annotations

from sqlalchemy import event, text

from app.models import Project, Role, User


def _me(client, headers) -> dict:
    response = client.get("/api/me/", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _sql(db, statement: str, **params) -> None:
    """A change made outside the ORM, as an operator in psql would make it."""
    db.session.execute(text(statement), params)
    db.session.commit()


def test_a_cached_user_deactivated_by_any_writer_is_refused_at_the_next_request(client, make_user, api_token, db):
    user = make_user("agent")
    headers = api_token(user)
    assert _me(client, headers)["username"] == user.username
    assert _me(client, headers)["username"] == user.username  # now from the process's cache
    _sql(db, "UPDATE users SET active = false WHERE id = :id", id=user.id)
    response = client.get("/api/me/", headers=headers)
    assert response.status_code == 401
    _sql(db, "UPDATE users SET active = true WHERE id = :id", id=user.id)
    assert _me(client, headers)["username"] == user.username


def test_role_permissions_memberships_and_project_names_count_at_the_next_request(client, make_user, api_token,
                                                                                   db):
    user = make_user("agent", projects=("Alpha",))
    headers = api_token(user)
    before = _me(client, headers)
    assert "CREATE_TASK" in before["permissions"] and [p["name"] for p in before["projects"]] == ["Alpha"]

    agent = db.session.query(Role).filter_by(name="agent").one()
    agent.permissions = ["UPDATE_TASK"]  # through the ORM
    db.session.commit()
    assert _me(client, headers)["permissions"] == ["UPDATE_TASK"]

    alpha = db.session.query(Project).filter_by(name="Alpha").one()
    _sql(db, "UPDATE projects SET name = 'Alpha (north)' WHERE id = :id", id=alpha.id)
    assert [p["name"] for p in _me(client, headers)["projects"]] == ["Alpha (north)"]

    beta = Project(name="Beta")
    db.session.add(beta)
    db.session.commit()
    _sql(db, "INSERT INTO user_projects (user_id, project_id) VALUES (:u, :p)", u=user.id, p=beta.id)
    assert sorted(p["name"] for p in _me(client, headers)["projects"]) == ["Alpha (north)", "Beta"]
    _sql(db, "DELETE FROM user_projects WHERE user_id = :u AND project_id = :p", u=user.id, p=alpha.id)
    assert [p["name"] for p in _me(client, headers)["projects"]] == ["Beta"]


def test_an_id_used_again_is_never_taken_for_the_user_it_was_before(client, make_user, api_token, db):
    """SQLite may give a deleted user's id to the next user; tests restart id sequences."""
    first = make_user("agent", username="first")
    old_headers = api_token(first)
    assert _me(client, old_headers)["username"] == "first"
    user_id, role_id = first.id, first.role_id
    _sql(db, "DELETE FROM users WHERE id = :id", id=user_id)  # its memberships go with it (their trigger too)
    assert client.get("/api/me/", headers=old_headers).status_code == 401
    second = User(id=user_id, username="second", password_hash="x", role_id=role_id)
    db.session.add(second)
    db.session.commit()
    assert _me(client, old_headers) == {"id": user_id, "username": "second", "role": "agent",
                                        "permissions": ["UPDATE_TASK", "CREATE_TASK"], "projects": []}


def test_an_unchanged_user_is_one_integer_read(client, make_user, api_token, web_app):
    user = make_user("coordinator", projects=("Alpha", "Beta"))
    headers = api_token(user)
    _me(client, headers)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    from app.extensions import db as web_db

    with web_app.app_context():
        engine = web_db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        body = _me(client, headers)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert sorted(p["name"] for p in body["projects"]) == ["Alpha", "Beta"]
    assert len(statements) == 1 and "principal_version" in statements[0], statements


def test_a_session_user_deactivated_is_logged_out_at_the_next_page(client, make_user, login, db):
    user = make_user("coordinator")
    login(user)
    assert client.get("/").status_code == 200
    assert client.get("/").status_code == 200
    _sql(db, "UPDATE users SET active = false WHERE id = :id", id=user.id)
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def _principal_versions_change(session) -> None:
    """Each change a user's access depends on gives them a principal_version never seen before."""
    def run(statement: str, **params):
        return session.execute(text(statement), params)

    role = run("INSERT INTO roles (name, description, permissions) VALUES ('r', '', '[]') RETURNING id").scalar()
    project = run("INSERT INTO projects (name, description, created_at) VALUES ('p', '', CURRENT_TIMESTAMP) "
                  "RETURNING id").scalar()
    users = [run("INSERT INTO users (username, email, full_name, password_hash, role_id, active, platform_operator, "
                 "created_at) VALUES (:n, '', '', 'x', :r, true, false, CURRENT_TIMESTAMP) RETURNING id",
                 n=name, r=role).scalar() for name in ("u1", "u2")]
    seen: set[int] = set()

    def changed(user_id: int) -> None:
        version = run("SELECT principal_version FROM users WHERE id = :id", id=user_id).scalar()
        assert version not in seen, "a principal_version came back"
        seen.add(version)

    for user_id in users:
        changed(user_id)
    for statement in ("UPDATE users SET active = false WHERE id = :u",
                      "INSERT INTO user_projects (user_id, project_id) VALUES (:u, :p)",
                      "UPDATE projects SET name = 'p2' WHERE id = :p",
                      "UPDATE roles SET permissions = '[\"UPDATE_TASK\"]' WHERE id = :r",
                      "DELETE FROM user_projects WHERE user_id = :u"):
        run(statement, u=users[0], p=project, r=role)
        changed(users[0])
    before = run("SELECT principal_version FROM users WHERE id = :id", id=users[1]).scalar()
    run("UPDATE users SET full_name = 'x' WHERE id = :u", u=users[0])
    assert run("SELECT principal_version FROM users WHERE id = :id", id=users[1]).scalar() == before
    session.rollback()


def test_the_triggers_give_a_new_version_on_postgresql(app, db):
    _principal_versions_change(db.session)


def test_the_triggers_give_a_new_version_on_sqlite(tmp_path, app_config):
    import flask_migrate

    from app import create_app
    from app.extensions import db as sqlite_db

    sqlite_app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}"})
    with sqlite_app.app_context():
        flask_migrate.upgrade(directory="migrations")
        _principal_versions_change(sqlite_db.session)
        sqlite_db.session.remove()
        sqlite_db.engine.dispose()
