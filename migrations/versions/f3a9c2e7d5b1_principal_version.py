"""principal version: a number that changes whenever what a user may do changes

`users.principal_version` lets each web process keep the user it loaded for a request (role, projects)
and reuse it while the number is the same: a request reads one integer instead of the user with their
role and projects. Database triggers give it a new value, so that every writer is covered (the ORM, Core
statements, psql), on:
- any change to the user's row (deactivation, role, password, time zone…);
- a project membership added or removed (`user_projects`);
- a change to the user's role (its permissions) or to one of their projects (its name).

A new value is never one the id had before, even if an id is used again (SQLite may reuse the highest
id after a delete; tests restart sequences): PostgreSQL draws it from the `principal_versions`
sequence, which no table owns; SQLite takes a random 63-bit integer. On SQLite a later batch migration
that rebuilds `users`, `user_projects`, `roles` or `projects` must create the triggers again.

Revision ID: f3a9c2e7d5b1
Revises: e5f1b7c9a2d4
Create Date: 2026-11-29 22:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'f3a9c2e7d5b1'
down_revision = 'e5f1b7c9a2d4'
branch_labels = None
depends_on = None

NEXT = "nextval('principal_versions')"
POSTGRESQL = [
    """CREATE FUNCTION principal_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN NEW.principal_version := nextval('principal_versions'); RETURN NEW; END $$""",
    """CREATE TRIGGER users_principal_version BEFORE UPDATE ON users FOR EACH ROW
       WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION principal_version_bump()""",
    f"""CREATE FUNCTION principal_membership_changed() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP IN ('INSERT', 'UPDATE') THEN
           UPDATE users SET principal_version = {NEXT} WHERE id = NEW.user_id;
         END IF;
         IF TG_OP IN ('DELETE', 'UPDATE') THEN
           UPDATE users SET principal_version = {NEXT} WHERE id = OLD.user_id;
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER user_projects_principal_version AFTER INSERT OR UPDATE OR DELETE ON user_projects
       FOR EACH ROW EXECUTE FUNCTION principal_membership_changed()""",
    f"""CREATE FUNCTION principal_role_changed() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN UPDATE users SET principal_version = {NEXT} WHERE role_id = NEW.id; RETURN NULL; END $$""",
    """CREATE TRIGGER roles_principal_version AFTER UPDATE ON roles FOR EACH ROW
       WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION principal_role_changed()""",
    f"""CREATE FUNCTION principal_project_changed() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         UPDATE users SET principal_version = {NEXT}
          WHERE id IN (SELECT user_id FROM user_projects WHERE project_id = NEW.id);
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER projects_principal_version AFTER UPDATE ON projects FOR EACH ROW
       WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION principal_project_changed()""",
]

# SQLite: AFTER triggers (a BEFORE trigger cannot set NEW); the WHEN guard keeps the users trigger from
# firing on its own UPDATE and on the other triggers' (which already set a new value).
RANDOM = "abs(random())"
SQLITE = [
    f"""CREATE TRIGGER users_principal_version_insert AFTER INSERT ON users FOR EACH ROW
       BEGIN UPDATE users SET principal_version = {RANDOM} WHERE id = NEW.id; END""",
    f"""CREATE TRIGGER users_principal_version AFTER UPDATE ON users FOR EACH ROW
       WHEN NEW.principal_version = OLD.principal_version
       BEGIN UPDATE users SET principal_version = {RANDOM} WHERE id = NEW.id; END""",
    f"""CREATE TRIGGER user_projects_principal_version_insert AFTER INSERT ON user_projects FOR EACH ROW
       BEGIN UPDATE users SET principal_version = {RANDOM} WHERE id = NEW.user_id; END""",
    f"""CREATE TRIGGER user_projects_principal_version_delete AFTER DELETE ON user_projects FOR EACH ROW
       BEGIN UPDATE users SET principal_version = {RANDOM} WHERE id = OLD.user_id; END""",
    f"""CREATE TRIGGER user_projects_principal_version_update AFTER UPDATE ON user_projects FOR EACH ROW
       BEGIN UPDATE users SET principal_version = {RANDOM} WHERE id IN (OLD.user_id, NEW.user_id); END""",
    f"""CREATE TRIGGER roles_principal_version AFTER UPDATE ON roles FOR EACH ROW
       BEGIN UPDATE users SET principal_version = {RANDOM} WHERE role_id = NEW.id; END""",
    f"""CREATE TRIGGER projects_principal_version AFTER UPDATE ON projects FOR EACH ROW
       BEGIN UPDATE users SET principal_version = {RANDOM}
              WHERE id IN (SELECT user_id FROM user_projects WHERE project_id = NEW.id); END""",
]
SQLITE_TRIGGERS = ('users_principal_version_insert', 'users_principal_version', 'user_projects_principal_version_insert',
                   'user_projects_principal_version_delete', 'user_projects_principal_version_update',
                   'roles_principal_version', 'projects_principal_version')


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE SEQUENCE principal_versions")
        op.add_column('users', sa.Column('principal_version', sa.BigInteger(), nullable=False,
                                         server_default=sa.text(NEXT)))  # every existing row draws its own
        statements = POSTGRESQL
    else:
        op.add_column('users', sa.Column('principal_version', sa.BigInteger(), nullable=False, server_default='0'))
        op.execute(f"UPDATE users SET principal_version = {RANDOM}")
        statements = SQLITE
    for statement in statements:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in ('users', 'user_projects', 'roles', 'projects'):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_principal_version ON {table}")
        for function in ('principal_version_bump', 'principal_membership_changed', 'principal_role_changed',
                         'principal_project_changed'):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('principal_version')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP SEQUENCE principal_versions")
