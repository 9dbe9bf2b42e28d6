"""The credit line over HTTP (user token routes, admin limit and top-up, problem+json answers) and on the
CLI (one line on stderr, non-zero exit, nothing changed), on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import httpx

from earnloop.auth.service import create_partner, create_user
from earnloop.db.engine import Database
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.wallet import service
from earnloop.wallet.credit_line.standing import line_standing
from earnloop.worker import credit_statements_due
from tests.conftest import Cli
from tests.integration.ledger_invariants import check_ledger_invariants

DAY_S = 86_400


def _client(api: httpx.Client, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=str(api.base_url), headers=headers, timeout=30)


def test_http_line_quote_draw_statement_repay(
    api: httpx.Client, db: Database, ledger: LedgerService, clock: ManualClock
) -> None:
    merchant = api.post(
        "/v1/partners", json={"name": "shop", "kind": "merchant", "settlement_currency": "TWD"}
    )
    user = api.post("/v1/users", json={"handle": "http-borrower"}).json()
    me = _client(api, {"Authorization": f"Bearer {user['token']}"})
    merchant_id = merchant.json()["partner_id"]
    with me:
        me.post("/v1/me/wallets/TWD")
        assert me.get("/v1/me/credit-line", params={"currency": "TWD"}).status_code == 404
        limit = {"currency": "TWD", "limit": 5_000}
        assert me.put(f"/v1/admin/users/{user['user_id']}/credit-line", json=limit).status_code in (401, 403)
        opened = api.put(f"/v1/admin/users/{user['user_id']}/credit-line", json=limit)
        assert opened.status_code == 200, opened.text
        assert opened.json()["available"] == 5_000
        ask = {"currency": "TWD", "merchant_id": merchant_id, "amount": 3_000}
        quote = me.post("/v1/me/credit-line/quote", json=ask).json()
        assert (quote["fee"], quote["total"], quote["fits"]) == (0, 3_000, True)
        too_much = me.post(
            "/v1/me/credit-line/draw",
            json=ask | {"amount": 5_001, "fee": 0},
            headers={"Idempotency-Key": "d0"},
        )
        assert too_much.status_code == 422
        assert too_much.headers["content-type"].startswith("application/problem+json")
        assert too_much.json()["type"].endswith("credit-limit-exceeded")
        drawn = me.post("/v1/me/credit-line/draw", json=ask | {"fee": 0}, headers={"Idempotency-Key": "d1"})
        assert drawn.status_code == 200, drawn.text
        assert drawn.json()["line"]["available"] == 2_000
        check_ledger_invariants(db)
        clock.advance(seconds=30 * DAY_S + 1)
        credit_statements_due(db, ledger)
        st = me.get("/v1/me/credit-line/statement", params={"currency": "TWD"}).json()
        assert (st["statement"]["balance_due"], st["statement"]["minimum_due"]) == (3_000, 300)
        assert [x["amount"] for x in st["statement"]["lines"]] == [3_000]
        api.post(
            f"/v1/admin/users/{user['user_id']}/wallets/TWD/adjustments",
            json={"amount": 1_000, "direction": "credit", "reason": "test"},
            headers={"Idempotency-Key": "fund"},
        )
        part = me.post(
            "/v1/me/credit-line/repay",
            json={"currency": "TWD", "amount": 100},
            headers={"Idempotency-Key": "r1"},
        )
        assert part.status_code == 200, part.text
        assert part.json()["line"]["owed"] == 2_900
        clock.advance(seconds=21 * DAY_S)  # past the due date, the minimum (300) unpaid
        credit_statements_due(db, ledger)
        wallet = me.get("/v1/me/wallets/TWD").json()
        assert (wallet["available"], wallet["debt"]) == (900, 2_900)
        frozen = me.post(
            "/v1/me/credit-line/draw", json=ask | {"amount": 1, "fee": 0}, headers={"Idempotency-Key": "d2"}
        )
        assert frozen.status_code == 409
        assert frozen.json()["type"].endswith("credit-line-frozen")
        check_ledger_invariants(db)
        topup = api.post(
            f"/v1/admin/users/{user['user_id']}/credit-line/topup",
            json={"currency": "TWD"},
            headers={"Idempotency-Key": "t1"},
        )
        assert topup.status_code == 200, topup.text
        assert topup.json()["line"]["available"] == 5_000
        st = me.get("/v1/me/credit-line/statement", params={"currency": "TWD"}).json()
        assert st["statement"]["state"] == "paid"
    check_ledger_invariants(db)


def test_cli_line_draw_repay_and_errors(cli: Cli, db: Database, ledger: LedgerService) -> None:
    """Four commands (each CLI run starts a process): limit, a refused draw, a draw, a top-up repay."""
    with db.uow() as conn:
        user_id = create_user(conn, "cli-borrower").id
        service.open_wallet(conn, ledger, user_id, "TWD")
        merchant_id = create_partner(conn, "Corner Shop", "merchant", "TWD").id
    uid, mid = str(user_id), str(merchant_id)
    opened = cli("credit-line", "limit", uid, "TWD", "4000")
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout)["available"] == 4_000
    refused = cli("credit-line", "draw", uid, "TWD", "4001", "--merchant", mid, "--key", "k0", "--fee", "0")
    assert refused.returncode != 0
    assert "available credit" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    drawn = cli("credit-line", "draw", uid, "TWD", "1500", "--merchant", mid, "--key", "k1", "--fee", "0")
    assert drawn.returncode == 0, drawn.stderr
    assert json.loads(drawn.stdout)["line"]["drawn"] == 1_500
    repaid = cli("credit-line", "repay", uid, "TWD", "--key", "r1", "--topup")
    assert repaid.returncode == 0, repaid.stderr
    with db.uow(write=False) as conn:
        standing = line_standing(conn, ledger, user_id)
    assert (standing["drawn"], standing["available"], standing["open_debt"]) == (0, 4_000, 0)
    check_ledger_invariants(db)
