"""Hot deploy across processes (issue 15, acceptance 2): while a second process (the real ``earnloop
serve``) answers a steady load of dry-run decisions, a new version is published and approved by two
operators through the ``earnloop`` CLI; the server answers with the new version within 5 s of the
approval, without a restart and without one failed request. (Propagation time itself is measured by
``earnloop bench risk-deploy``.)"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from earnloop.db.engine import Database
from tests.conftest import SECRETS_KEYS, Cli, DbTarget
from tests.integration.risk.support import BIG, LENIENT, STRICT, example, operators
from tests.live_server import earnloop_serve

DEADLINE_S = 5.0
LOAD_MAX_S = 60.0  # bound on the load, whatever happens
CLIENTS = 2


@dataclass
class Load:
    """Clients deciding in a loop until told to stop; every answer recorded as (received at, version),
    and when its request was sent."""

    base_url: str
    token: str
    answers: list[tuple[float, str]] = field(default_factory=list)
    sent: list[tuple[float, str]] = field(default_factory=list)  # (sent at, version answered)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        body = {"strategy": "default", "activation": {"amount": BIG, "click_to_event_s": 60}}
        headers = {"Authorization": f"Bearer {self.token}"}
        started = time.monotonic()
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=10) as http:
            while not self.stop.is_set() and time.monotonic() - started < LOAD_MAX_S:
                sent_at = time.monotonic()
                try:
                    response = http.post("/v1/risk/evaluate", json=body)
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code} {response.text[:200]}")
                    continue
                version = response.json()["decision"]["version"]
                self.answers.append((time.monotonic(), version))
                self.sent.append((sent_at, version))

    def first(self, version: str) -> float | None:
        return min((at for at, seen in list(self.answers) if seen == version), default=None)


def _write(path: Path, document: dict[str, Any]) -> str:
    path.write_text(json.dumps({"name": "default", **document}), encoding="utf-8")
    return str(path)


@pytest.mark.slow
def test_an_approved_version_reaches_another_process_within_5_s_with_no_failed_request(
    cli: Cli, db: Database, db_target: DbTarget, tmp_path: Path
) -> None:
    tokens = operators(db)
    alice, bob = {"EARNLOOP_OPERATOR_TOKEN": tokens["alice"]}, {"EARNLOOP_OPERATOR_TOKEN": tokens["bob"]}
    assert cli("risk", "strategy", "publish", _write(tmp_path / "v1.json", LENIENT), **alice).returncode == 0
    assert cli("risk", "strategy", "approve", "default", "1", **bob).returncode == 0
    updated = dict(STRICT, test_pack=[example("big amount", "block", amount=BIG, click_to_event_s=60)])
    v2 = _write(tmp_path / "v2.json", updated)

    with earnloop_serve(db_target.cli_url, tmp_path, EARNLOOP_SECRETS_KEYS=SECRETS_KEYS) as base_url:
        load = Load(base_url, tokens["alice"])
        clients = [threading.Thread(target=load.run) for _ in range(CLIENTS)]
        for client in clients:
            client.start()
        try:
            while len(load.answers) < 50 and not load.failures:  # the load is running on version 1
                time.sleep(0.05)
            published = cli("risk", "strategy", "publish", v2, **alice)
            assert published.returncode == 0, published.stderr
            approving = time.monotonic()
            approved = cli("risk", "strategy", "approve", "default", "2", **bob)
            assert approved.returncode == 0, approved.stderr
            approved_at = time.monotonic()
            while load.first("default-2") is None and time.monotonic() - approved_at < DEADLINE_S:
                time.sleep(0.05)
            time.sleep(0.5)  # a little more load on the new version
        finally:
            load.stop.set()
            for client in clients:
                client.join(timeout=30)

    assert not load.failures, load.failures[:5]
    seen = load.first("default-2")
    assert seen is not None, f"version 2 not answered within {DEADLINE_S} s of its approval"
    assert seen - approved_at <= DEADLINE_S
    before = {version for at, version in load.answers if at < approving}
    # once in force, it stays: a request sent after the new version was answered never gets the old
    # one (a request already deciding while the process reloaded may still answer with it, later)
    after = {version for sent_at, version in load.sent if sent_at > seen}
    assert before == {"default-1"}
    assert after == {"default-2"}
