"""Admin commands: `flask --app webapp users create|new-key|list|revoke-key|set-tier|...`.

`flask jobs ...` and `flask queues` live in `webapp.admin_cli`.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, update

from config.settings import LIMIT_NAMES
from tasks.db import db
from tasks.models import TIERS, ApiKey, User
from webapp.admin_cli import print_table
from webapp.auth import issue_api_key

users = AppGroup("users", help="Manage users and their API keys.")


@users.command("create")
@click.argument("name")
@click.option("--tier", type=click.Choice(TIERS), default="standard", show_default=True)
@click.option("--admin", is_flag=True, help="An operator: may see /ops, stats and Flower links.")
def create_user(name: str, tier: str, admin: bool) -> None:
    """Create a user and print a new API key (shown once) as the last line."""
    if db.session.execute(db.select(User).where(User.name == name)).scalar_one_or_none():
        raise click.ClickException(f"a user named {name!r} already exists")
    user = User(name=name, tier=tier, is_admin=admin)
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


def _user(name: str) -> User:
    user = db.session.execute(db.select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"no user named {name!r}")
    return user


@users.command("list")
def list_users() -> None:
    """Every user: tier, admin, active keys, and their own limits (- : the tier's)."""
    active_keys = (
        db.select(func.count())
        .where(ApiKey.user_id == User.id, ApiKey.revoked_at.is_(None))
        .scalar_subquery()
    )
    rows = [
        [user.name, user.tier, "yes" if user.is_admin else "no", keys]
        + [getattr(user, name) or "-" for name in LIMIT_NAMES]
        for user, keys in db.session.execute(db.select(User, active_keys).order_by(User.name))
    ]
    print_table(["NAME", "TIER", "ADMIN", "KEYS", *(n.upper() for n in LIMIT_NAMES)], rows)


@users.command("revoke-key")
@click.argument("name")
@click.option("--prefix", help="Revoke only the key starting with this (default: every key).")
def revoke_key(name: str, prefix: str | None) -> None:
    """Revoke a user's API keys (all of them, or the one with --prefix)."""
    user = _user(name)
    query = update(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
    if prefix:
        query = query.where(ApiKey.prefix.startswith(prefix[:10], autoescape=True))
    revoked = db.session.execute(query.values(revoked_at=func.now())).rowcount
    db.session.commit()
    if not revoked:
        raise click.ClickException(f"{name!r} has no active key to revoke")
    click.echo(f"revoked {revoked} key(s) of {name!r}")


@users.command("set-tier")
@click.argument("name")
@click.argument("tier", type=click.Choice(TIERS))
def set_tier(name: str, tier: str) -> None:
    """Move a user to another tier (its lanes, limits and retention)."""
    _user(name).tier = tier
    db.session.commit()
    click.echo(f"{name!r} is now {tier}")


@users.command("set-quota")
@click.argument("name")
@click.option("--requests-per-minute", type=click.IntRange(min=1))
@click.option("--jobs-per-day", type=click.IntRange(min=1))
@click.option("--max-pending", type=click.IntRange(min=1))
@click.option("--max-in-flight", type=click.IntRange(min=1))
@click.option("--reset", is_flag=True, help="Clear every own limit: the tier's apply again.")
def set_quota(name: str, reset: bool, **limits: int | None) -> None:
    """Set a user's own limits (overriding the tier's), or --reset them."""
    user = _user(name)
    given = {key: value for key, value in limits.items() if value is not None}
    if reset == bool(given):
        raise click.UsageError("give one or more limits, or --reset (not both)")
    for key in LIMIT_NAMES:
        if reset or key in given:
            setattr(user, key, given.get(key))
    db.session.commit()
    shown = ", ".join(f"{key}={getattr(user, key) or 'tier default'}" for key in LIMIT_NAMES)
    click.echo(f"{name!r}: {shown}")


@users.command("set-admin")
@click.argument("name")
@click.option("--off", is_flag=True, help="Take the operator's rights away instead.")
def set_admin(name: str, off: bool) -> None:
    """Make a user an operator (or, with --off, no longer one)."""
    _user(name).is_admin = not off
    db.session.commit()
    click.echo(f"{name!r} is {'no longer' if off else 'now'} an admin")


def register(app: Flask) -> None:
    """Add the command groups to `flask`."""
    from webapp import admin_cli

    app.cli.add_command(users)
    app.cli.add_command(admin_cli.jobs)
    app.cli.add_command(admin_cli.queues)
