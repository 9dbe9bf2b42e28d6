"""What the stored-strategy tests share: a live app on the test database whose strategy sources check
for changes on every decision, risk operators made through the real service, and strategy documents."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from earnloop.auth.operators import create_operator
from earnloop.db.engine import Database
from tests.conftest import ADMIN_TOKEN, DbTarget
from tests.live_server import client, serve

STRATEGY = "default"
BIG = 50_000  # minor units


@dataclass(frozen=True)
class Desk:
    """A running server and the tokens of its operators: ``alice`` and ``bob`` (risk), ``vera`` (viewer)."""

    http: httpx.Client
    tokens: dict[str, str]

    def as_(self, who: str) -> dict[str, str]:
        token = ADMIN_TOKEN if who == "admin" else self.tokens[who]
        return {"Authorization": f"Bearer {token}"}

    def post(self, who: str, path: str, body: Any = None) -> httpx.Response:
        return self.http.post(path, json=body, headers=self.as_(who))

    def put(self, who: str, path: str, body: Any) -> httpx.Response:
        return self.http.put(path, json=body, headers=self.as_(who))

    def get(self, who: str, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params, headers=self.as_(who))

    def publish(self, who: str, document: dict[str, Any], name: str = STRATEGY) -> httpx.Response:
        return self.post(who, f"/v1/risk/strategies/{name}/versions", document)

    def approve(self, who: str, version: int, name: str = STRATEGY) -> httpx.Response:
        return self.post(who, f"/v1/risk/strategies/{name}/versions/{version}/approve")

    def decide(self, activation: dict[str, Any], **extra: Any) -> dict[str, Any]:
        response = self.post(
            "alice", "/v1/risk/evaluate", {"strategy": STRATEGY, "activation": activation, **extra}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def operators(db: Database) -> dict[str, str]:
    with db.uow() as conn:
        return {
            "alice": create_operator(conn, "alice", ["risk"]).secret,
            "bob": create_operator(conn, "bob", ["risk", "analyst"]).secret,
            "vera": create_operator(conn, "vera", ["viewer"]).secret,
        }


@contextmanager
def desk(db: Database, target: DbTarget, **settings: Any) -> Iterator[Desk]:
    from earnloop.api.app import create_app
    from earnloop.config import Settings

    tokens = operators(db)
    configured = Settings(
        database_url=target.url, admin_token=ADMIN_TOKEN, risk_strategy_refresh_ms=0, **settings
    )
    app = create_app(configured, db=db)
    with serve(app) as base_url, client(base_url) as http:
        yield Desk(http, tokens)


def rule(code: str, expression: str, outcome: str = "block", score: int = 0) -> dict[str, Any]:
    return {"code": code, "expression": expression, "outcome": outcome, "score": score}


def example(label: str, expected: str, **activation: Any) -> dict[str, Any]:
    return {"label": label, "activation": activation, "expected": expected}


def version(
    *rules: dict[str, Any],
    changelog: str = "change",
    pack: list[dict[str, Any]] | None = None,
    **thresholds: int,
) -> dict[str, Any]:
    document: dict[str, Any] = {"changelog": changelog, "rules": list(rules), "thresholds": thresholds}
    if pack is not None:
        document["test_pack"] = pack
    return document


# v1 allows big amounts; v2 blocks them: the decisions a rollback must restore.
LENIENT = version(rule("fast_install", "click_to_event_s < 5"), changelog="fast installs")
STRICT = version(
    rule("fast_install", "click_to_event_s < 5"),
    rule("big_amount", f"amount >= {BIG}"),
    changelog="block big amounts",
)
