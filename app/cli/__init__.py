"""Command-line tools: `flask users …`, `flask jobs …`, plus demo data and imports."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from app.services.platform.errors import ValidationFailed

users_cli = AppGroup("users", help="Manage users.")
jobs_cli = AppGroup("jobs", help="Inspect and maintain jobs.")


@users_cli.command("create")
@click.option("--username", required=True)
@click.option("--password", required=True, help="At least 8 characters.")
@click.option("--role", required=True, help="admin, coordinator or agent.")
@click.option("--project", "projects", multiple=True, help="Project name (created if missing); repeatable.")
@click.option("--email", default="")
@click.option("--full-name", default="")
@click.option("--operator", is_flag=True, help="Platform operator: RQ dashboard, outbox, OpenHEXA, project-less rows.")
def create_user_command(username, password, role, projects, email, full_name, operator):
    """Create a user."""
    from app.schemas.parsing import validate_data
    from app.schemas.users import UserIn
    from app.services.platform.users import create_user, ensure_default_roles

    ensure_default_roles()
    try:
        user = create_user(validate_data(UserIn, {
            "username": username, "password": password, "role": role, "projects": list(projects), "email": email,
            "full_name": full_name, "platform_operator": operator}, "Cannot create user", strict=True))
    except ValidationFailed as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Created user {user.username} (id {user.id}, role {role}"
               + (f", projects: {', '.join(projects)}" if projects else "") + (", platform operator" if operator else "")
               + ")")


@users_cli.command("operator")
@click.argument("username")
@click.option("--revoke", is_flag=True, help="Take the flag away instead.")
def operator_command(username, revoke):
    """Make a user the platform operator (or, with --revoke, no longer)."""
    from app.services.platform.errors import NotFound
    from app.services.platform.users import set_platform_operator

    try:
        user = set_platform_operator(username, not revoke)
    except NotFound as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{user.username} is {'no longer ' if revoke else ''}a platform operator")


@users_cli.command("roles")
def sync_roles_command():
    """Create the built-in roles and refresh their permissions."""
    from app.services.platform.users import ensure_default_roles

    for name, role in sorted(ensure_default_roles().items()):
        click.echo(f"{name}: {', '.join(role.permissions)}")


@jobs_cli.command("reap")
def reap_command():
    """Fail jobs whose worker died (the RQ cron scheduler also runs this every minute)."""
    from app.services.processing.jobs import reap_stale_jobs

    click.echo(f"{reap_stale_jobs()} stale job(s) marked failed")


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(jobs_cli)
    from app.cli.outbox import outbox_cli

    app.cli.add_command(outbox_cli)
    from app.cli.data import register_data_cli

    register_data_cli(app)
