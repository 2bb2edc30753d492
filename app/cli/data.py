"""Data commands: `flask demo load` (synthetic country) and `flask orgunits import FILE`."""
from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from app.services.platform.errors import ValidationFailed

demo_cli = AppGroup("demo", help="Demo data.")
orgunits_cli = AppGroup("orgunits", help="Org unit data.")


class _Progress:
    """Adapts a service's progress(done, total) callback to a click progress bar on stderr."""

    def __init__(self, label: str):
        self.label = label
        self.bar = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr,
                                         show_pos=True)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _print_errors(exc: ValidationFailed) -> None:
    click.secho(exc.message.split(" — ")[0], fg="red", err=True)
    if list(exc.details) == ["file"]:
        return
    for label, messages in exc.details.items():
        for message in messages:
            click.echo(f"  {label}: {message}", err=True)


@demo_cli.command("load")
@click.option("--org-units", "org_units", default=5000, show_default=True, type=click.IntRange(min=1),
              help="About how many org units to create.")
@click.option("--seed", default=42, show_default=True, type=int, help="Same seed, same country.")
@click.option("--regions", default=None, type=click.IntRange(min=1),
              help="Number of regions (default 8, or 4 above 20,000 org units).")
def load_demo_command(org_units, seed, regions):
    """Load a synthetic country, teams and users into "Demo project" (password: fieldflow)."""
    from app.demo.planning import load_demo
    from app.services.platform.users import ensure_default_roles

    ensure_default_roles()
    progress = _Progress("Org units")
    try:
        summary = load_demo(org_units, seed=seed, regions=regions, progress=progress)
    except ValidationFailed as exc:
        progress.close()
        raise click.ClickException(exc.message) from None
    progress.close()
    if summary.get("skipped"):
        click.echo(f"{summary['project']} already has org units; no org units loaded.")
    else:
        click.echo(
            f"Loaded {summary['org_units']} org units ({summary['regions']} regions, {summary['districts']} "
            f"districts, {summary['facilities']} health facilities), {summary['teams']} teams and "
            f"{summary['users']} users into {summary['project']} in {summary['seconds']} s."
        )
    # The help desk and the EO schedules are loaded once too (both skip what exists).
    from app.services.processing.schedules import seed_eo_schedules
    from app.services.orchestration.sla import seed_sla_defaults
    from app.demo.helpdesk import load_ticket_demo
    from app.services.platform.users import get_or_create_project

    seed_sla_defaults()  # the default business calendar and the seed SLA targets, before any task
    project = get_or_create_project(summary["project"])
    tickets = load_ticket_demo(project)
    if not tickets.get("skipped"):
        click.echo(f"Help desk: {', '.join(f'{v} {k}' for k, v in tickets.items() if isinstance(v, int))}.")
    seed_eo_schedules(project.id)
    from app.services.orchestration.automation import ensure_builtin_rules

    ensure_builtin_rules()
    click.echo("Log in as admin, coordinator or agent with password 'fieldflow'.")


def _import_with_progress(run) -> dict:
    """Run an all-or-nothing org unit import with a progress bar; refused rows are printed, one per line,
    and the command fails (nothing was imported)."""
    progress = _Progress("Org units")
    try:
        return run(progress)
    except ValidationFailed as exc:
        progress.close()  # the bar's line ends before the errors are printed
        _print_errors(exc)
        raise click.ClickException("nothing was imported") from None
    finally:
        progress.close()


@orgunits_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--project", "project_name", required=True, help="Project to import into.")
def import_org_units_command(file, project_name):
    """Import org units from a GeoJSON FeatureCollection or CSV (id, name, type, parent, …)."""
    from app.services.planning.orgunit_import import import_org_units

    result = _import_with_progress(lambda progress: import_org_units(file, project_name, progress=progress))
    click.echo(f"Imported {file} into {project_name}: {result['created']} created, {result['updated']} updated.")


@orgunits_cli.command("import-dhis2")
@click.option("--connection", "connection_id", type=int, required=True, help="Stored DHIS2 connection id.")
@click.option("--levels", type=int, default=3, show_default=True, help="Import levels 1..N.")
def import_dhis2_org_units_command(connection_id, levels):
    """Import the org unit hierarchy (geometry, UIDs as source refs) from a DHIS2 connection into its project."""
    from app.services.planning.dhis2_orgunits import import_from_dhis2

    result = _import_with_progress(lambda progress: import_from_dhis2(connection_id, levels, progress=progress))
    click.echo(f"Fetched {result['fetched']} org units: {result['created']} created, {result['updated']} updated.")


def register_data_cli(app: Flask) -> None:
    app.cli.add_command(demo_cli)
    app.cli.add_command(orgunits_cli)
