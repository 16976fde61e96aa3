"""``caspira events``: inspect the inbox, retry dead letters, discard hopeless ones."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from caspira.store import EventNotFound, EventRow, EventStateError, Store, StoreError

__all__ = ["events"]

_AGE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

#: Payload keys shown as they are; every other value is personal data until proven not.
_VISIBLE = {
    "flow",
    "table",
    "record_id",
    "operation",
    "occurred_at",
    "delivery_id",
    "source",
    "event",
    "comment_id",
}


def _age(_ctx: Any, _param: Any, value: str | None) -> timedelta | None:
    if value is None:
        return None
    match = _AGE.match(value.strip())
    if not match:
        raise click.BadParameter(f"expected an age like 30m, 6h or 2d, got {value!r}")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def _store(config_path: Path) -> Store:
    from caspira.cli import _load

    config = _load(config_path)
    try:
        store = Store(config.store.url, tenant=config.tenant)
        store.migrate()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    return store


def _config_option(function: Any) -> Any:
    from caspira.cli import _config_option as option

    return option(function)


@click.group()
def events() -> None:
    """Inspect and repair the event inbox (dead letters included).

    \b
    caspira events list --state dead        what gave up, newest first
    caspira events show 42                  one event, each attempt and its error
    caspira events retry 42                 try a dead event again (or --all)
    caspira events discard 42               give up on an event for good
    """


@events.command("list")
@_config_option
@click.option("--state", type=click.Choice(["pending", "in_progress", "done", "dead"]))
@click.option("--flow", help="Only this flow's events.")
@click.option(
    "--older-than", callback=_age, help="Only events received longer ago (30m, 6h, 2d)."
)
@click.option("--limit", default=50, show_default=True)
def list_events(
    config_path: Path,
    state: str | None,
    flow: str | None,
    older_than: timedelta | None,
    limit: int,
) -> None:
    """List events, newest first."""
    store = _store(config_path)
    rows = store.events(state=state, flow=flow, older_than=older_than, limit=limit)
    if not rows:
        click.echo("no events match")
        return
    click.echo(f"{'id':>6}  {'state':<11} {'tries':>5}  {'flow':<10} {'key':<24} error")
    for row in rows:
        state = "discarded" if row.discarded_at else row.state
        error = "" if row.state == "done" else (row.last_error or "")[:60]
        click.echo(
            f"{row.id:>6}  {state:<11} {row.attempts:>5}  {row.flow or '-':<10} "
            f"{row.key:<24} {error}"
        )


@events.command()
@_config_option
@click.argument("event_id", type=int)
def show(config_path: Path, event_id: int) -> None:
    """Show one event: its payload (personal data redacted) and every attempt."""
    row = _store(config_path).event(event_id)
    if row is None:
        raise click.ClickException(f"no event {event_id} (see caspira events list)")
    click.echo(json.dumps(_redacted(row), indent=2, default=str, ensure_ascii=False))


def _redacted(row: EventRow) -> dict[str, Any]:
    payload = {
        key: value if key in _VISIBLE else _mask(value)
        for key, value in row.payload.items()
    }
    return {
        "id": row.id,
        "state": "discarded" if row.discarded_at else row.state,
        "flow": row.flow,
        "key": row.key,
        "delivery_id": row.delivery_id,
        "received_at": row.received_at,
        "next_attempt_at": row.next_attempt_at,
        "last_error": row.last_error,
        "payload": payload,
        "attempts": [attempt.model_dump() for attempt in row.attempt_log or ()],
    }


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _mask(inner) for key, inner in value.items()}
    if value is None or isinstance(value, bool | int | float):
        return value
    return f"<redacted: {len(str(value))} characters>"


@events.command()
@_config_option
@click.argument("event_id", type=int, required=False)
@click.option("--all", "all_dead", is_flag=True, help="Retry every dead event.")
def retry(config_path: Path, event_id: int | None, all_dead: bool) -> None:
    """Put a dead event (or, with --all, every dead event) back in the queue."""
    if (event_id is None) == (not all_dead):
        raise click.UsageError("give an EVENT_ID or --all, not both")
    store = _store(config_path)
    ids = [event_id] if event_id is not None else _dead_ids(store)
    for one in ids:
        try:
            store.retry_event(one)
        except (EventNotFound, EventStateError) as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(ids)} event(s) queued again")


def _dead_ids(store: Store) -> list[int]:
    ids: list[int] = []
    while True:
        rows = [r for r in store.events(state="dead", limit=500) if r.id not in ids]
        rows = [r for r in rows if r.discarded_at is None]
        if not rows:
            return ids
        ids.extend(r.id for r in rows)
        if len(rows) < 500:
            return ids


@events.command()
@_config_option
@click.argument("event_id", type=int)
def discard(config_path: Path, event_id: int) -> None:
    """Give up on an event for good; it stays listed, marked discarded."""
    try:
        _store(config_path).discard_event(event_id)
    except (EventNotFound, EventStateError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"event {event_id} discarded")
