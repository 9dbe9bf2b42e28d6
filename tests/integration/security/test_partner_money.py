"""Money a partner can take (issue 13, items 4 and 5), over real HTTP on SQLite and PostgreSQL.

- A merchant's deposit hold is a request: nothing moves until the user approves it, and a capture never
  exceeds what the user approved; a declined request moves nothing; new refs cannot drain a wallet.
- A standing mandate lets holds take effect at once, within its limit (also under concurrent holds),
  and not after it was revoked or expired.
- The order id a user sees is an unguessable token, and an order meant for one payer is invisible to
  everyone else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from earnloop.ledger.clock import ManualClock

FUNDS = 10_000
DEPOSIT = 3_000
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{22,}$")


@dataclass
class Party:
    http: httpx.Client
    id: int


def _client(api: httpx.Client, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=str(api.base_url), headers=headers, timeout=30)


def _problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/" + slug), response.text


@contextmanager
def _user(api: httpx.Client, handle: str, funds: int = FUNDS) -> Iterator[Party]:
    created = api.post("/v1/users", json={"handle": handle}).json()
    with _client(api, Authorization=f"Bearer {created['token']}") as me:
        assert me.post("/v1/me/wallets/TWD").status_code in (200, 201)
        if funds:
            funded = api.post(
                f"/v1/admin/users/{created['user_id']}/wallets/TWD/adjustments",
                json={"amount": funds, "direction": "credit", "reason": "test"},
                headers={"Idempotency-Key": f"fund-{handle}"},
            )
            assert funded.status_code == 200, funded.text
        yield Party(me, int(created["user_id"]))


@contextmanager
def _merchant(api: httpx.Client, name: str, deposit: int | None = DEPOSIT) -> Iterator[Party]:
    made = api.post("/v1/partners", json={"name": name, "kind": "merchant", "settlement_currency": "TWD"})
    assert made.status_code in (200, 201), made.text
    partner_id = int(made.json()["partner_id"])
    if deposit is not None:
        policy = api.put(
            f"/v1/admin/deposit-policies/{name}-car/TWD", json={"partner_id": partner_id, "amount": deposit}
        )
        assert policy.status_code == 200, policy.text
    with _client(api, **{"X-Api-Key": made.json()["api_key"]}) as http:
        yield Party(http, partner_id)


def _hold(shop: Party, name: str, user: Party, ref: str, **extra: object) -> httpx.Response:
    body = {"product": f"{name}-car", "user_id": user.id, "currency": "TWD", "ref": ref, **extra}
    return shop.http.post("/v1/partner/holds", json=body, headers={"Idempotency-Key": f"place-{ref}"})


def _capture(shop: Party, hold_id: str, amount: int, key: str) -> httpx.Response:
    return shop.http.post(
        f"/v1/partner/holds/{hold_id}/capture",
        json={"amount": amount, "reason": "damage"},
        headers={"Idempotency-Key": key},
    )


def _wallet(user: Party) -> tuple[int, int]:
    wallet = user.http.get("/v1/me/wallets/TWD").json()
    return int(wallet["available"]), int(wallet["held"])


# -- (a) a hold is a request until the user approves it -------------------------------------------
def test_a_hold_moves_no_money_until_the_user_approves_and_capture_stays_within_it(api: httpx.Client) -> None:
    with _user(api, "driver") as driver, _user(api, "nosy") as nosy, _merchant(api, "cars") as cars:
        requested = _hold(cars, "cars", driver, "trip-1")
        assert requested.status_code == 201, requested.text
        hold_id = requested.json()["hold_id"]
        assert _wallet(driver) == (FUNDS, 0)  # old code: (7000, 3000), the money was taken at once
        assert requested.json()["state"] == "requested"
        _problem(_capture(cars, hold_id, DEPOSIT, "c-early"), 409, "state-conflict")
        assert _wallet(driver) == (FUNDS, 0)
        assert [h["state"] for h in driver.http.get("/v1/me/holds").json()] == ["requested"]
        url = f"/v1/me/holds/{hold_id}"
        _problem(nosy.http.post(f"{url}/approve", headers={"Idempotency-Key": "a-1"}), 404, "not-found")
        _problem(driver.http.post(f"{url}/approve"), 422, "validation-error")  # no Idempotency-Key
        approved = driver.http.post(f"{url}/approve", headers={"Idempotency-Key": "a-1"})
        assert approved.status_code == 200, approved.text
        assert (
            driver.http.post(f"{url}/approve", headers={"Idempotency-Key": "a-1"}).json() == approved.json()
        )
        assert (approved.json()["state"], approved.json()["approved_via"]) == ("held", "user")
        assert _wallet(driver) == (FUNDS - DEPOSIT, DEPOSIT)
        _problem(_capture(cars, hold_id, DEPOSIT + 1, "c-1"), 422, "exceeds-hold")
        captured = _capture(cars, hold_id, 1_200, "c-2")
        assert (captured.status_code, captured.json()["captured"]) == (200, 1_200), captured.text
        assert _wallet(driver) == (FUNDS - 1_200, 0)

        declined_id = _hold(cars, "cars", driver, "trip-2").json()["hold_id"]
        declined = driver.http.post(f"/v1/me/holds/{declined_id}/decline", headers={"Idempotency-Key": "d-1"})
        assert (declined.status_code, declined.json()["state"]) == (200, "declined"), declined.text
        _problem(_capture(cars, declined_id, 1, "c-3"), 409, "state-conflict")
        _problem(
            driver.http.post(f"/v1/me/holds/{declined_id}/approve", headers={"Idempotency-Key": "a-2"}),
            409,
            "state-conflict",
        )
        assert _wallet(driver) == (FUNDS - 1_200, 0)


# -- (b) new refs cannot drain a wallet ------------------------------------------------------------
def test_repeated_holds_with_new_refs_cannot_drain_a_wallet(api: httpx.Client) -> None:
    with _user(api, "victim") as victim, _merchant(api, "greedy") as greedy:
        for n in range(5):
            placed = _hold(greedy, "greedy", victim, f"r-{n}")
            assert placed.status_code == 201, placed.text
            taken = _capture(greedy, placed.json()["hold_id"], DEPOSIT, f"c-{n}")
            assert taken.status_code == 409, taken.text  # old code: 200, the deposit was taken
            assert placed.json()["state"] == "requested"
        assert _wallet(victim) == (FUNDS, 0)


# -- (c) mandates ----------------------------------------------------------------------------------
def _grant(user: Party, shop: Party, key: str, **limits: int) -> httpx.Response:
    body = {"partner_id": shop.id, "currency": "TWD", "expires_in_s": 3_600, **limits}
    return user.http.post("/v1/me/mandates", json=body, headers={"Idempotency-Key": key})


def test_a_mandate_lets_holds_within_its_limit_take_effect_until_revoked_or_expired(
    api: httpx.Client, clock: ManualClock
) -> None:
    with (
        _user(api, "renter") as renter,
        _user(api, "thief") as thief,
        _merchant(api, "rent") as rent,
        _merchant(api, "other") as other,
    ):
        granted = _grant(renter, rent, "m-1", total_limit=2 * DEPOSIT, max_per_hold=DEPOSIT)
        assert granted.status_code == 201, granted.text  # old code: 404, no mandates
        mandate_id = granted.json()["mandate_id"]
        first = _hold(rent, "rent", renter, "m-r1", use_mandate=True)
        second = _hold(rent, "rent", renter, "m-r2", use_mandate=True)
        assert [(r.status_code, r.json()["state"], r.json()["approved_via"]) for r in (first, second)] == [
            (201, "held", "mandate"),
            (201, "held", "mandate"),
        ]
        _problem(_hold(rent, "rent", renter, "m-r3", use_mandate=True), 422, "mandate-limit-exceeded")
        _problem(_hold(other, "other", renter, "o-r1", use_mandate=True), 403, "no-mandate")
        assert _wallet(renter) == (FUNDS - 2 * DEPOSIT, 2 * DEPOSIT)
        (listed,) = renter.http.get("/v1/me/mandates").json()
        assert (listed["mandate_id"], listed["used"], listed["state"]) == (mandate_id, 2 * DEPOSIT, "active")
        captured = _capture(rent, first.json()["hold_id"], DEPOSIT, "m-c1")
        assert captured.json()["captured"] == DEPOSIT

        _problem(thief.http.delete(f"/v1/me/mandates/{mandate_id}"), 404, "not-found")
        assert thief.http.get("/v1/me/mandates").json() == []
        assert renter.http.delete(f"/v1/me/mandates/{mandate_id}").status_code == 204
        fresh = _grant(renter, rent, "m-2", total_limit=FUNDS).json()
        under_fresh = _hold(rent, "rent", renter, "m-r4", use_mandate=True)
        assert (under_fresh.status_code, under_fresh.json()["mandate_id"]) == (201, fresh["mandate_id"])
        assert renter.http.delete(f"/v1/me/mandates/{fresh['mandate_id']}").status_code == 204
        assert renter.http.delete(f"/v1/me/mandates/{fresh['mandate_id']}").status_code == 204  # again
        _problem(_hold(rent, "rent", renter, "m-r6", use_mandate=True), 403, "no-mandate")
        _problem(other.http.delete(f"/v1/me/mandates/{fresh['mandate_id']}"), 401, "unauthorized")
        short = _grant(renter, rent, "m-3", total_limit=FUNDS, expires_in_s=600)
        assert short.status_code == 201, short.text
        clock.advance(seconds=601)
        _problem(_hold(rent, "rent", renter, "m-r5", use_mandate=True), 403, "no-mandate")
        assert _wallet(renter)[0] == FUNDS - 3 * DEPOSIT
        states = {m["mandate_id"]: m["state"] for m in renter.http.get("/v1/me/mandates").json()}
        assert states[mandate_id] == states[fresh["mandate_id"]] == "revoked"
        assert states[short.json()["mandate_id"]] == "expired"


def test_concurrent_holds_under_one_mandate_never_exceed_its_limit(api: httpx.Client) -> None:
    with _user(api, "busy", funds=10 * DEPOSIT) as busy, _merchant(api, "fleet") as fleet:
        granted = _grant(busy, fleet, "m-1", total_limit=3 * DEPOSIT)
        assert granted.status_code == 201, granted.text
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(
                pool.map(lambda n: _hold(fleet, "fleet", busy, f"c-{n}", use_mandate=True), range(8))
            )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201] * 3 + [422] * 5, [a.text for a in answers]
        assert _wallet(busy) == (7 * DEPOSIT, 3 * DEPOSIT)
        (mandate,) = busy.http.get("/v1/me/mandates").json()
        assert mandate["used"] == 3 * DEPOSIT


# -- (d) orders ------------------------------------------------------------------------------------
def _order(shop: Party, ref: str, **extra: object) -> httpx.Response:
    return shop.http.post("/v1/merchant/orders", json={"order_id": ref, "amount": 500, **extra})


def test_order_ids_are_unguessable_and_not_readable_by_guessing(api: httpx.Client) -> None:
    with _user(api, "payer") as payer, _user(api, "guesser") as guesser, _merchant(api, "shop", None) as shop:
        orders = [_order(shop, f"o-{n}") for n in range(3)]
        tokens = [o.json()["order_id"] for o in orders]
        for token in tokens:
            assert isinstance(token, str), tokens  # old code: 1, 2, 3
            assert TOKEN_RE.match(token), token
        for guess in ("1", "2", "3", "4"):
            _problem(guesser.http.get(f"/v1/me/orders/{guess}"), 404, "not-found")
            _problem(
                guesser.http.post(f"/v1/me/orders/{guess}/confirm", headers={"Idempotency-Key": guess}),
                404,
                "not-found",
            )
        assert _wallet(guesser) == (FUNDS, 0)
        paid = payer.http.post(f"/v1/me/orders/{tokens[0]}/confirm", headers={"Idempotency-Key": "p"})
        assert (paid.status_code, paid.json()["state"], paid.json()["order_id"]) == (200, "paid", tokens[0])


def test_an_order_meant_for_one_payer_cannot_be_read_or_paid_by_another(api: httpx.Client) -> None:
    with _user(api, "alice") as alice, _user(api, "bob") as bob, _merchant(api, "cafe", None) as cafe:
        made = _order(cafe, "for-alice", payer_user_id=alice.id)
        assert made.status_code == 200, made.text  # old code: 422, no payer_user_id
        token = made.json()["order_id"]
        assert made.json()["payer_user_id"] == alice.id
        _problem(bob.http.get(f"/v1/me/orders/{token}"), 404, "not-found")
        _problem(
            bob.http.post(f"/v1/me/orders/{token}/confirm", headers={"Idempotency-Key": "b"}),
            404,
            "not-found",
        )
        assert _wallet(bob) == (FUNDS, 0)
        assert alice.http.get(f"/v1/me/orders/{token}").json()["state"] == "awaiting_user"
        paid = alice.http.post(f"/v1/me/orders/{token}/confirm", headers={"Idempotency-Key": "a"})
        assert (paid.status_code, paid.json()["user_id"]) == (200, alice.id), paid.text
        assert _wallet(alice) == (FUNDS - 500, 0)
        _problem(_order(cafe, "for-nobody", payer_user_id=10**9), 404, "not-found")
