"""Admin commands: `flask --app webapp users create NAME [--tier vip]`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from tasks.db import db
from tasks.models import TIERS, User
from webapp.auth import issue_api_key

users = AppGroup("users", help="Manage users and their API keys.")


@users.command("create")
@click.argument("name")
@click.option("--tier", type=click.Choice(TIERS), default="standard", show_default=True)
def create_user(name: str, tier: str) -> None:
    """Create a user and print a new API key (shown once) as the last line."""
    if db.session.execute(db.select(User).where(User.name == name)).scalar_one_or_none():
        raise click.ClickException(f"a user named {name!r} already exists")
    user = User(name=name, tier=tier)
    db.session.add(user)
    raw_key = issue_api_key(user)
    db.session.commit()
    click.echo(f"created {tier} user {name!r}; API key (shown once):")
    click.echo(raw_key)


@users.command("new-key")
@click.argument("name")
def new_key(name: str) -> None:
    """Issue another API key to an existing user; printed as the last line."""
    user = db.session.execute(db.select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"no user named {name!r}")
    raw_key = issue_api_key(user)
    db.session.commit()
    click.echo(raw_key)


def register(app: Flask) -> None:
    """Add the command groups to `flask`."""
    app.cli.add_command(users)
