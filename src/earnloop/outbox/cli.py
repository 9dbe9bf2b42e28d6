"""``earnloop webhooks …``: endpoints, secret rotation, deliveries, attempts, replay and a one-off send."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from earnloop.cli_support import fail, out, ready_database, secret_box
from earnloop.config import get_settings
from earnloop.ledger.cli import run
from earnloop.outbox import delivery, service
from earnloop.outbox.errors import InvalidWebhookUrlError
from earnloop.outbox.targets import TargetGuard

webhooks_app = typer.Typer(
    help="Partner webhooks: endpoints, secrets, deliveries, replay.", no_args_is_help=True
)

PartnerId = Annotated[int, typer.Argument(min=1, help="Partner id.")]


@webhooks_app.command("set-endpoint")
def set_endpoint(
    partner_id: PartnerId,
    url: Annotated[str, typer.Argument(help="http(s) URL events are POSTed to.")],
    disabled: Annotated[bool, typer.Option("--disabled", help="Pause deliveries.")] = False,
) -> None:
    """Set a partner's endpoint; prints it (and the signing secret when one is created — shown once).
    Internal addresses are refused unless EARNLOOP_WEBHOOK_ALLOW_PRIVATE_TARGETS is set."""
    settings = get_settings()
    try:
        target = TargetGuard.from_settings(settings).check(url)
    except InvalidWebhookUrlError as exc:
        fail(str(exc))
    box = secret_box(settings)
    endpoint, secret = run(
        lambda conn, ledger: service.set_endpoint(
            conn, partner_id, target, enabled=not disabled, now_ns=ledger.clock.now_ns(), box=box
        )
    )
    out.print_json(json.dumps({**endpoint, "secret": secret}))


@webhooks_app.command("rotate-secret")
def rotate_secret(
    partner_id: PartnerId,
    grace_seconds: Annotated[
        int, typer.Option(min=0, max=service.GRACE_MAX_S, help="How long the previous secret stays valid.")
    ] = service.DEFAULT_GRACE_S,
) -> None:
    """Create a new signing secret and print it (shown once); the previous one keeps signing for a while."""
    box = secret_box()
    rotated = run(
        lambda conn, ledger: service.rotate_secret(
            conn, partner_id, now_ns=ledger.clock.now_ns(), grace_s=grace_seconds, box=box
        )
    )
    out.print_json(json.dumps(rotated))


@webhooks_app.command("deliveries")
def deliveries(
    partner: Annotated[int | None, typer.Option(min=1, help="Only this partner.")] = None,
    state: Annotated[str | None, typer.Option(help="pending, delivered or dead.")] = None,
    event: Annotated[str | None, typer.Option(help="Only this event id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=service.LIST_MAX)] = 20,
) -> None:
    """Deliveries, newest first."""
    rows: list[dict[str, Any]] = run(
        lambda conn, _: service.list_deliveries(
            conn, partner_id=partner, event_id=event, state=state, limit=limit
        ),
        write=False,
    )
    table = Table("id", "event", "topic", "partner", "state", "attempts", "last status", "last error")
    for d in rows:
        table.add_row(
            str(d["id"]),
            d["event_id"],
            d["topic"],
            str(d["partner_id"]),
            d["state"],
            str(d["attempts"]),
            str(d["last_status_code"] or ""),
            d["last_error"] or "",
        )
    out.print(table)


@webhooks_app.command("attempts")
def attempts(delivery_id: Annotated[int, typer.Argument(min=1, help="Delivery id.")]) -> None:
    """Every attempt of a delivery (at, status code or error, duration)."""
    rows = run(lambda conn, _: service.list_attempts(conn, delivery_id), write=False)
    table = Table("attempt", "at (ns)", "status", "error", "ms")
    for a in rows:
        table.add_row(
            str(a["attempt_no"]),
            str(a["at_ns"]),
            str(a["status_code"] or ""),
            a["error"] or "",
            str(a["duration_ms"]),
        )
    out.print(table)


@webhooks_app.command("replay")
def replay(event_id: Annotated[str, typer.Argument(help="Event id (evt_…).")]) -> None:
    """Queue an event for delivery again, due now (the worker sends it; receivers dedupe by id)."""
    rows = run(lambda conn, ledger: service.replay(conn, event_id, now_ns=ledger.clock.now_ns()))
    for d in rows:
        out.print(f"delivery {d['id']} of {d['event_id']} to endpoint {d['endpoint_id']} queued")


@webhooks_app.command("deliver")
def deliver() -> None:
    """Relay new events and send every due delivery once (the worker does this continuously)."""
    import time

    settings = get_settings()
    db = ready_database()
    try:
        now = time.time_ns()
        created = delivery.relay(db, now)
        report = delivery.deliver_due(
            db, now, guard=TargetGuard.from_settings(settings), box=secret_box(settings)
        )
    except Exception as exc:  # one line, not a traceback
        fail(f"{type(exc).__name__}: {exc}")
    finally:
        db.dispose()
    out.print(
        f"{created} queued, {report.attempted} attempted, {report.delivered} delivered, "
        f"{report.retrying} retrying, {report.dead} dead"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(webhooks_app, name="webhooks")
