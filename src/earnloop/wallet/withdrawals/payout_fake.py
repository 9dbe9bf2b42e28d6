"""A fake payout provider (a bank that pays out), as a FastAPI app, for tests and the demo.

It is idempotent on the request id, like the real providers the wallet expects, and counts how many
times it actually paid each request (``executions``) so tests can prove nothing is paid twice.

Fault modes, set per destination account (``PUT /faults/{account_number}`` with a queue of modes, one
consumed per new request) or per request (``X-Fake-Fault`` header):

- ``ok``: pays, answers ``paid``.
- ``fail``: declines, answers ``failed`` (nothing paid).
- ``timeout``: pays, then answers only after ``slow_s`` (longer than the client's timeout).
- ``timeout_declined``: declines, then answers only after ``slow_s``.
- ``lost``: the request never "arrives": nothing recorded, answer after ``slow_s``.
- ``error``: pays, then answers HTTP 500.
- ``duplicate``: pays, answers ``paid``, and sends the result callback twice.
- ``late``: accepts (``pending``); pays after ``late_s`` and only then sends the result callback.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import httpx
from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from earnloop.wallet.withdrawals.payouts import (
    SIGNATURE_HEADER,
    PayoutAnswer,
    PayoutRequest,
    PayoutUnknownError,
    sign,
)

Mode = Literal["ok", "fail", "timeout", "timeout_declined", "lost", "error", "duplicate", "late"]
MODES: frozenset[str] = frozenset(Mode.__args__)  # type: ignore[attr-defined]
_SLOW = frozenset({"timeout", "timeout_declined", "lost"})


@dataclass
class Outcome:
    """What the fake does with one submission: the HTTP status and body, after how long."""

    status_code: int
    body: dict[str, Any]
    delay_s: float = 0.0


@dataclass
class FakeBank:
    """The provider's state: payouts by request id, fault queues, callbacks to send."""

    callback_url: str | None = None
    callback_secret: str | None = None
    slow_s: float = 1.0
    late_s: float = 0.5
    payouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    executions: dict[str, int] = field(default_factory=dict)
    submissions: dict[str, int] = field(default_factory=dict)
    callbacks_sent: int = 0
    _faults: dict[str, list[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set_faults(self, account_number: str, modes: list[str]) -> None:
        unknown = set(modes) - MODES
        if unknown:
            raise ValueError(f"unknown fault modes {sorted(unknown)}")
        with self._lock:
            self._faults[account_number] = list(modes)

    def submit(self, body: dict[str, Any], fault: str | None = None) -> Outcome:
        request_id = str(body["request_id"])
        account = str(body["destination"]["account_number"])
        callbacks: list[dict[str, Any]] = []
        with self._lock:
            self.submissions[request_id] = self.submissions.get(request_id, 0) + 1
            existing = self.payouts.get(request_id)
            if existing is not None:  # idempotent: the same request id never pays twice
                return Outcome(200, self._answer(existing))
            queue = self._faults.get(account) or []
            mode = fault or (queue.pop(0) if queue else "ok")
            if mode == "lost":
                return Outcome(504, {"error": "gateway timeout"}, self.slow_s)
            paid = mode in ("ok", "timeout", "error", "duplicate")
            record = {
                "request_id": request_id,
                "amount": int(body["amount"]),
                "currency": str(body["currency"]),
                "status": "pending" if mode == "late" else ("paid" if paid else "failed"),
                "provider_ref": "fp_" + uuid.uuid4().hex[:16],
                "reason": None if paid or mode == "late" else "declined by the receiving institution",
            }
            self.payouts[request_id] = record
            if paid:
                self.executions[request_id] = self.executions.get(request_id, 0) + 1
            answer = self._answer(record)
            if mode == "duplicate":
                callbacks = [answer, answer]
        if mode == "late":
            threading.Thread(target=self._finish_late, args=(request_id,), daemon=True).start()
        if callbacks:
            threading.Thread(target=self._send, args=(callbacks,), daemon=True).start()
        if mode == "error":
            return Outcome(500, {"error": "internal error"})
        return Outcome(200, answer, self.slow_s if mode in _SLOW else 0.0)

    def inquire(self, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self.payouts.get(request_id)
            return None if record is None else self._answer(record)

    def paid_total(self) -> int:
        with self._lock:
            return sum(p["amount"] for p in self.payouts.values() if p["status"] == "paid")

    def _finish_late(self, request_id: str) -> None:
        time.sleep(self.late_s)
        with self._lock:
            record = self.payouts[request_id]
            record["status"] = "paid"
            self.executions[request_id] = self.executions.get(request_id, 0) + 1
            answer = self._answer(record)
        self._send([answer])

    def _send(self, answers: list[dict[str, Any]]) -> None:
        if not self.callback_url or not self.callback_secret:
            return
        for answer in answers:
            body = json.dumps(answer).encode()
            try:
                httpx.post(
                    self.callback_url,
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        SIGNATURE_HEADER: sign(self.callback_secret, body),
                    },
                    timeout=10,
                )
            except httpx.HTTPError:
                continue  # a real provider would retry; the inquiry sweep covers a lost callback
            with self._lock:
                self.callbacks_sent += 1

    @staticmethod
    def _answer(record: dict[str, Any]) -> dict[str, Any]:
        return {k: record[k] for k in ("request_id", "status", "provider_ref", "reason")}


class FaultsIn(BaseModel):
    modes: list[Mode] = Field(max_length=100)


def create_fake_app(bank: FakeBank) -> FastAPI:
    """The fake provider's HTTP API: submit, inquire, set faults."""
    app = FastAPI(title="fake payout provider", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/payouts")
    def submit(
        body: dict[str, Any], fault: Annotated[Mode | None, Header(alias="X-Fake-Fault")] = None
    ) -> JSONResponse:
        outcome = bank.submit(body, fault)
        if outcome.delay_s:
            time.sleep(outcome.delay_s)
        return JSONResponse(outcome.body, status_code=outcome.status_code)

    @app.get("/payouts/{request_id}")
    def inquire(request_id: str) -> JSONResponse:
        answer = bank.inquire(request_id)
        if answer is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(answer)

    @app.put("/faults/{account_number}", status_code=204)
    def set_faults(account_number: str, body: FaultsIn) -> None:
        bank.set_faults(account_number, list(body.modes))

    return app


class DirectPayoutProvider:
    """The fake bank called in-process (the demo app without a provider URL): no network, so the slow
    modes surface at once as an unknown answer instead of a client timeout."""

    def __init__(self, bank: FakeBank) -> None:
        self.bank = bank

    def submit(self, request: PayoutRequest) -> PayoutAnswer:
        outcome = self.bank.submit(request.to_json())
        if outcome.status_code != 200 or outcome.delay_s:
            raise PayoutUnknownError("fake provider did not answer in time")
        return PayoutAnswer.parse(outcome.body, request.request_id)

    def inquire(self, request_id: str) -> PayoutAnswer:
        answer = self.bank.inquire(request_id)
        if answer is None:
            return PayoutAnswer(request_id, "not_found")
        return PayoutAnswer.parse(answer, request_id)
