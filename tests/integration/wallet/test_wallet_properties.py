"""End-to-end property test of every wallet flow, on SQLite and PostgreSQL.

Hypothesis interleaves, for five users, two merchants (TWD and USD settlement) and a charity: operator
adjustments, cashback (pending → confirmed by the clock → reversed, clawed back into debt), merchant orders
and pay codes (paid from either currency through FX), refunds, escrow trades, deposit holds (captured,
released, expired by the clock), donations, withdrawals against the fake payout provider (paid, declined,
unknown then resolved by inquiry, frozen by a debt) and currency conversions — with amounts often larger
than the balances, so that failures happen.

A plain Python model keeps each wallet's expected available / pending / held / debt / lifetime earned, is
changed only by the documented effects of operations that succeed, and predicts which domain error each
failing operation raises. After every step: every wallet view equals the model and the raw ledger
accounts, and :func:`check_ledger_invariants` holds. A failed operation must leave its users' wallets
unchanged; an earlier successful operation re-sent with its idempotency key must answer the same and
change nothing in the ledger.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Connection

from earnloop.auth.service import create_partner, create_user
from earnloop.currencies import currency
from earnloop.db.engine import Database
from earnloop.idempotency.service import IdempotencyConflictError
from earnloop.ledger.clock import ManualClock
from earnloop.ledger.service import LedgerService
from earnloop.risk.engine import memory_engine, shadowed_default
from earnloop.wallet import service
from earnloop.wallet.cashback import service as cashback
from earnloop.wallet.cashback.service import Funding
from earnloop.wallet.chart import AccountKind
from earnloop.wallet.donations import service as donations
from earnloop.wallet.errors import (
    FrozenError,
    InsufficientFundsError,
    InvalidAmountError,
    LimitExceededError,
    NotFoundError,
    StateConflictError,
    WalletError,
)
from earnloop.wallet.escrow import service as escrow
from earnloop.wallet.escrow.service import ADMIN, Actor, ForbiddenError
from earnloop.wallet.fx import service as fx
from earnloop.wallet.holds import service as holds
from earnloop.wallet.holds.errors import ExceedsHoldError, HoldExpiredError
from earnloop.wallet.pay import service as pay
from earnloop.wallet.pay.service import (
    OrderExpiredError,
    PayCodeExpiredError,
    PayCodeUsedError,
    RefundExceedsPaymentError,
)
from earnloop.wallet.withdrawals import service as withdrawals
from earnloop.wallet.withdrawals.payout_fake import DirectPayoutProvider, FakeBank
from earnloop.worker import escrow_timeouts, expire_holds, sweep_once
from tests.conftest import DbTarget, reset_ledger
from tests.integration.ledger_invariants import LedgerSnapshot, check_ledger_invariants

NS = 1_000_000_000
RISK = memory_engine(strategies=shadowed_default)  # screened, decided by allow-all (default in shadow)
DAY_NS = 86_400 * NS
USERS = 5
CURRENCIES = ("TWD", "USD")
CUR = st.sampled_from(("TWD", "TWD", "USD"))
USER = st.integers(0, USERS - 1)
LIMITS = withdrawals.Limits(min_amount=100, daily_limit=20_000)
USD_TWD_TEXT = "31.5"
USD_TWD = Fraction(USD_TWD_TEXT)
SPREAD_BPS = 100
FEE_BPS = {"TWD": pay.DEFAULT_FEE_BPS, "USD": 275}
DEPOSITS = {("sedan", "TWD"): 3_000, ("scooter", "USD"): 500}
SEDAN_OVERRIDE = 1_200  # user 1's own sedan deposit
START_FUNDS = {"TWD": 20_000, "USD": 3_000}
# Every clock advance adds 1 ms to whole seconds, so that no deadline set in whole seconds from an
# earlier instant ever coincides with "now" give or take the ledger's nanosecond timestamp drift.
TICK_NS = 1_000_000
Expected = type[Exception] | tuple[type[Exception], ...] | None


def _amounts(k: int) -> st.SearchStrategy[int]:
    if k == 0:
        return st.just(0)  # invalid
    return st.integers(1, 4_000) if k < 8 else st.integers(4_000, 60_000)  # often more than the balance


AMOUNT = st.integers(0, 10).flatmap(_amounts)
PAY_CUR = st.sampled_from((None, None, "TWD", "USD"))


# -- FX, as documented in wallet/fx.py (both currencies have 2 decimals) --------------------------------
def _factor(source: str, target: str) -> Fraction:
    rate = USD_TWD if (source, target) == ("USD", "TWD") else 1 / USD_TWD
    return rate * Fraction(10_000 - SPREAD_BPS, 10_000)


def fx_receive(source: str, target: str, amount: int) -> int:
    return math.floor(amount * _factor(source, target))


def fx_cost(source: str, target: str, amount: int) -> int:
    return math.ceil(Fraction(amount) / _factor(source, target))


# -- the model ---------------------------------------------------------------------------------------------
@dataclass
class Bal:
    available: int = 0
    pending: int = 0
    held: int = 0
    debt: int = 0
    earned: int = 0


@dataclass
class Reward:
    ref: str
    user: int
    cur: str
    amount: int
    release_at: int
    status: str = "pending"


@dataclass
class Order:
    order_id: int
    merchant: int
    merchant_order_id: str
    amount: int
    cur: str
    fee: int
    expires_at: int
    state: str = "awaiting_user"
    user: int | None = None
    pay_cur: str | None = None
    pay_amount: int = 0
    refunded: int = 0
    fee_refunded: int = 0
    pay_refunded: int = 0


@dataclass
class PayCode:
    code: str
    user: int
    cur: str
    expires_at: int
    used: bool = False


@dataclass
class Trade:
    trade_id: str
    merchant: int
    cur: str
    amount: int
    pay_deadline: int
    confirm_timeout_s: int
    state: str = escrow.WAIT_BUYER_PAY
    buyer: int | None = None
    confirm_deadline: int = 0


@dataclass
class Hold:
    hold_id: str
    merchant: int
    user: int
    cur: str
    amount: int
    expires_at: int
    state: str = "held"


@dataclass
class Withdrawal:
    withdrawal_id: int
    user: int
    cur: str
    amount: int
    created_at: int
    state: str
    outcome: str  # the final state an inquiry will find ("paid" / "failed")


@dataclass
class Replay:
    label: str
    op: Callable[[], dict[str, Any]]
    check: Callable[[dict[str, Any]], None]


@dataclass
class Model:
    wallets: dict[tuple[int, str], Bal] = field(default_factory=dict)
    rewards: list[Reward] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    codes: list[PayCode] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    withdrawals: list[Withdrawal] = field(default_factory=list)

    def bal(self, user: int, cur: str) -> Bal:
        return self.wallets[(user, cur)]

    def has(self, user: int, cur: str) -> bool:
        return (user, cur) in self.wallets

    def available(self, user: int, cur: str) -> int:
        return self.wallets[(user, cur)].available

    def used_today(self, user: int, cur: str, now: int) -> int:
        day_start = now - now % DAY_NS
        return sum(
            w.amount
            for w in self.withdrawals
            if (w.user, w.cur) == (user, cur) and w.created_at >= day_start and w.state != "failed"
        )


class WalletMachine(RuleBasedStateMachine):
    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.clock = ManualClock()
        self.ledger = LedgerService(self.clock)
        self.bank = FakeBank()
        self.provider = DirectPayoutProvider(self.bank)
        self.m = Model()
        self.replays: list[Replay] = []
        self.adjust_keys: list[dict[str, Any]] = []
        self.snapshot: LedgerSnapshot | None = None
        self.counter = 0

    # -- helpers ------------------------------------------------------------------------------------------
    def _key(self, prefix: str = "k") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _in_uow(self, fn: Callable[[Connection], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
        def op() -> dict[str, Any]:
            with self.db.uow() as conn:
                return fn(conn)

        return op

    def _views(self, users: list[int]) -> dict[tuple[int, str], Any]:
        out: dict[tuple[int, str], Any] = {}
        with self.db.uow(write=False) as conn:
            for u in users:
                for cur in CURRENCIES:
                    try:
                        out[(u, cur)] = service.view(conn, self.ledger, self.users[u], cur)
                    except NotFoundError:
                        out[(u, cur)] = None
        return out

    def _attempt(
        self, users: list[int], expected: Expected, op: Callable[[], dict[str, Any]], label: str
    ) -> dict[str, Any] | None:
        """Run ``op``; it must raise ``expected`` (then nothing changed for ``users``) or, when
        ``expected`` is None, succeed."""
        before = self._views(users)
        try:
            answer = op()
        except (WalletError, IdempotencyConflictError) as exc:
            failure: Exception = exc
        else:
            assert expected is None, f"{label}: succeeded, but the model expected {expected}"
            return answer
        assert expected is not None, f"{label}: unexpected {type(failure).__name__}: {failure}"
        assert isinstance(failure, expected), (
            f"{label}: {type(failure).__name__}: {failure}, but the model expected {expected}"
        )
        assert self._views(users) == before, f"{label}: a failed operation changed a wallet"
        return None

    def _remember(self, label: str, op: Callable[[], dict[str, Any]], answer: dict[str, Any]) -> None:
        def check(again: dict[str, Any]) -> None:
            assert again == answer, f"re-sent {label} answered differently"

        self.replays.append(Replay(label, op, check))

    @staticmethod
    def _pick(data: st.DataObject, items: list[Any], prefer: Callable[[Any], bool]) -> Any:
        """Mostly an item in an interesting state (when there is one), sometimes any."""
        preferred = [item for item in items if prefer(item)]
        if preferred and data.draw(st.integers(0, 2)) > 0:
            return data.draw(st.sampled_from(preferred))
        return data.draw(st.sampled_from(items))

    # -- setup -------------------------------------------------------------------------------------------
    @initialize()
    def setup(self) -> None:
        reset_ledger(self.db)
        now = self.clock.now_ns()
        with self.db.uow() as conn:
            self.users = [create_user(conn, f"user-{i}").id for i in range(USERS)]
            self.merchants = {
                "TWD": create_partner(conn, "shop-twd", "merchant", "TWD").id,
                "USD": create_partner(conn, "shop-usd", "merchant", "USD").id,
            }
            self.charity = create_partner(conn, "charity", "charity", "TWD").id
            pay.set_fee(conn, merchant_id=self.merchants["USD"], fee_bps=FEE_BPS["USD"])
            fx.set_rate(
                conn, base="USD", quote="TWD", rate=USD_TWD_TEXT, valid_from_ns=0, spread_bps=SPREAD_BPS
            )
            for (product, cur), amount in DEPOSITS.items():
                holds.set_policy(
                    conn, product=product, currency_code=cur, partner_id=self.merchants[cur], amount=amount
                )
            holds.set_override(
                conn,
                product="sedan",
                currency_code="TWD",
                user_id=self.users[1],
                amount=SEDAN_OVERRIDE,
                reason="trusted driver",
            )
            always = donations.create_campaign(
                conn,
                self.ledger,
                charity_id=self.charity,
                name="Always open",
                currency_code="TWD",
                goal=1_000_000,
                starts_at_ns=0,
                ends_at_ns=1 << 62,
            )
            later = donations.create_campaign(
                conn,
                self.ledger,
                charity_id=self.charity,
                name="Opens in an hour",
                currency_code="USD",
                goal=50_000,
                starts_at_ns=now + 3_600 * NS,
                ends_at_ns=now + 3 * 3_600 * NS,
            )
            self.campaigns = [
                (int(always["campaign_id"]), "TWD", 0, 1 << 62),
                (int(later["campaign_id"]), "USD", now + 3_600 * NS, now + 3 * 3_600 * NS),
            ]
            self.destinations = []
            for i, user_id in enumerate(self.users):
                dest = withdrawals.add_destination(
                    conn,
                    user_id=user_id,
                    kind="bank",
                    institution="Test Bank",
                    holder_name=f"Holder {i}",
                    account_number=f"ACCT00{i}",
                    now_ns=now,
                    risk=RISK,
                )
                self.destinations.append(int(dest["destination_id"]))
                for cur in CURRENCIES[: 2 if i < 2 else 1]:  # users 0 and 1 also have a USD wallet
                    service.open_wallet(conn, self.ledger, user_id, cur)
                    service.adjust(
                        conn,
                        self.ledger,
                        idempotency_key=f"start-{i}-{cur}",
                        user_id=user_id,
                        currency_code=cur,
                        amount=START_FUNDS[cur],
                        direction="credit",
                        reason="starting funds",
                        actor="test",
                    )
                    self.m.wallets[(i, cur)] = Bal(available=START_FUNDS[cur])

    # -- operator adjustments ---------------------------------------------------------------------------
    @rule(u=USER, cur=CUR, amount=AMOUNT, direction=st.sampled_from(("credit", "debit")))
    def adjust(self, u: int, cur: str, amount: int, direction: str) -> None:
        key = self._key("adj")
        request = {"user_id": self.users[u], "currency_code": cur, "amount": amount, "direction": direction}
        op = self._in_uow(
            lambda conn: service.adjust(
                conn, self.ledger, idempotency_key=key, reason="support", actor="test", **request
            )
        )
        if not self.m.has(u, cur):
            expected: Expected = NotFoundError
        elif amount < 1:
            expected = InvalidAmountError
        elif direction == "debit" and amount > self.m.available(u, cur):
            expected = InsufficientFundsError
        else:
            expected = None
        answer = self._attempt([u], expected, op, "adjust")
        if answer is None:
            return
        self.m.bal(u, cur).available += amount if direction == "credit" else -amount
        self._remember("adjust", op, answer)
        self.adjust_keys.append({"key": key, **request})

    @precondition(lambda self: self.adjust_keys)
    @rule(data=st.data())
    def reuse_key_with_another_request(self, data: st.DataObject) -> None:
        earlier = data.draw(st.sampled_from(self.adjust_keys))
        changed = {**earlier, "amount": earlier["amount"] + 1}
        key = changed.pop("key")
        op = self._in_uow(
            lambda conn: service.adjust(
                conn, self.ledger, idempotency_key=key, reason="support", actor="test", **changed
            )
        )
        self._attempt(list(range(USERS)), IdempotencyConflictError, op, "adjust with a reused key")

    # -- cashback -----------------------------------------------------------------------------------------
    @rule(
        u=USER,
        cur=CUR,
        amount=AMOUNT.filter(lambda a: a > 0),
        delay_s=st.sampled_from((0, 0, 30, 600, 3_600)),
        funding=st.sampled_from(("partner", "partner", "operator", "campaign")),
        then=st.sampled_from(("nothing", "nothing", "confirm", "spend_and_reverse")),
        spend_pct=st.integers(0, 100),
        next_reward=AMOUNT.filter(lambda a: a > 0),
    )
    def cashback_credit(
        self,
        u: int,
        cur: str,
        amount: int,
        delay_s: int,
        funding: str,
        then: str,
        spend_pct: int,
        next_reward: int,
    ) -> None:
        """A pending reward; sometimes confirmed at once, or confirmed, then part of the wallet spent and
        the reward reversed: a clawback that may leave a debt, which freezes withdrawals until the next
        reward (``next_reward``) repays it."""
        if then != "nothing":
            delay_s = 0
        ref = self._key("order-")
        release_at = self.clock.now_ns() + delay_s * NS
        source = {
            "partner": Funding(AccountKind.PARTNER_FUNDING, self.merchants["TWD"]),
            "operator": Funding(AccountKind.OPERATOR_FUNDING, 0),
            "campaign": Funding(AccountKind.CAMPAIGN_BUDGET, 7),  # an unfunded budget cannot pay
        }[funding]
        op = self._in_uow(
            lambda conn: cashback.credit_pending(
                conn,
                self.ledger,
                source="shopping",
                ref=ref,
                user_id=self.users[u],
                currency_code=cur,
                amount=amount,
                release_at_ns=release_at,
                funding=source,
            )
        )
        expected = InsufficientFundsError if funding == "campaign" else None
        answer = self._attempt([u], expected, op, "cashback.credit_pending")
        if answer is None:
            return
        assert (answer["status"], answer["amount"]) == ("pending", amount)
        self.m.wallets.setdefault((u, cur), Bal()).pending += amount
        self.m.rewards.append(Reward(ref, u, cur, amount, release_at))
        self._remember("cashback.credit_pending", op, answer)
        if then == "nothing":
            return
        self._confirm_due()
        if then == "spend_and_reverse":
            spend = self.m.available(u, cur) * spend_pct // 100
            if spend > 0:
                self.adjust(u, cur, spend, "debit")
            self._reverse(self.m.rewards[-1], self.m.rewards[-1].ref)
            self.withdraw(u, cur, LIMITS.min_amount, "ok")  # frozen while the clawback left a debt
            if self.m.bal(u, cur).debt > 0:
                self.cashback_credit(u, cur, next_reward, 0, "operator", "confirm", 0, 0)
                self.withdraw(u, cur, LIMITS.min_amount, "ok")

    @rule(seconds=st.sampled_from((0, 0, 30, 600, 3_600)))
    def cashback_confirm_due(self, seconds: int) -> None:
        if seconds:
            self.advance_clock(seconds)
        self._confirm_due()

    def _confirm_due(self) -> None:
        now = self.clock.now_ns()
        with self.db.uow() as conn:
            confirmed = cashback.confirm_due(conn, self.ledger, now)
        due = [r for r in self.m.rewards if r.status == "pending" and r.release_at <= now]
        assert confirmed == len(due)
        for r in due:
            r.status = "confirmed"
            b = self.m.bal(r.user, r.cur)
            repaid = min(b.debt, r.amount)
            b.pending -= r.amount
            b.available += r.amount - repaid
            b.debt -= repaid
            b.earned += r.amount

    @precondition(lambda self: self.m.rewards)
    @rule(data=st.data())
    def cashback_reverse(self, data: st.DataObject) -> None:
        """Mostly a confirmed reward (clawback, maybe into debt), else a pending, reversed or unknown one."""
        reward: Reward | None = None
        ref = "no-such-order"
        if data.draw(st.integers(0, 9)) > 0:
            reward = self._pick(data, self.m.rewards, lambda r: r.status == "confirmed")
            ref = reward.ref
        self._reverse(reward, ref)

    def _reverse(self, reward: Reward | None, ref: str) -> None:
        op = self._in_uow(lambda conn: cashback.reverse(conn, self.ledger, source="shopping", ref=ref))
        users = [] if reward is None else [reward.user]
        answer = self._attempt(users, NotFoundError if reward is None else None, op, "cashback.reverse")
        if answer is None or reward is None:
            return
        b = self.m.bal(reward.user, reward.cur)
        if reward.status == "pending":
            reward.status = "reversed"
            b.pending -= reward.amount
        elif reward.status == "confirmed":
            reward.status = "clawed_back"
            taken = min(reward.amount, b.available)
            b.available -= taken
            b.debt += reward.amount - taken
            b.earned -= reward.amount
            assert (answer["clawed_back"], answer["debt_recorded"]) == (taken, reward.amount - taken)
        assert answer["status"] == reward.status
        self._remember("cashback.reverse", op, answer)

    # -- the clock and the worker's sweeps -----------------------------------------------------------------
    @rule(seconds=st.sampled_from((1, 30, 60, 120, 600, 3_600, 7_200, 86_400)))
    def advance(self, seconds: int) -> None:
        self.advance_clock(seconds)

    def advance_clock(self, seconds: int) -> None:
        self.clock.advance(seconds=seconds, ns=TICK_NS)
        now = self.clock.now_ns()
        sweep_once(self.db, self.ledger)
        expired = expire_holds(self.db, self.ledger)
        changed = escrow_timeouts(self.db, self.ledger)
        due_holds = [h for h in self.m.holds if h.state == "held" and now >= h.expires_at]
        for h in due_holds:
            h.state = "expired"
            b = self.m.bal(h.user, h.cur)
            b.held -= h.amount
            b.available += h.amount
        moved = 0
        for t in self.m.trades:
            if t.state == escrow.WAIT_BUYER_PAY and t.pay_deadline <= now:
                t.state = escrow.TRADE_CLOSED
                moved += 1
            elif t.state == escrow.WAIT_BUYER_CONFIRM and t.confirm_deadline <= now:
                assert t.buyer is not None
                t.state = escrow.TRADE_FINISHED
                self.m.bal(t.buyer, t.cur).held -= t.amount
                moved += 1
        assert (expired, changed) == (len(due_holds), moved)

    # -- merchant orders, pay codes, refunds ----------------------------------------------------------
    @rule(
        cur=CUR,
        amount=AMOUNT.filter(lambda a: a > 0),
        ttl_s=st.sampled_from((60, 900, 3_600)),
        payers=st.lists(st.tuples(USER, PAY_CUR), max_size=2),
        refunds=st.lists(st.none() | st.integers(0, 10) | AMOUNT, max_size=2),
    )
    def order_create(
        self,
        cur: str,
        amount: int,
        ttl_s: int,
        payers: list[tuple[int, str | None]],
        refunds: list[int | None],
    ) -> None:
        """A merchant presents an order; then zero, one or two users confirm it (a double confirm), and
        the merchant refunds it in part, in full (None) or too much."""
        merchant = self.merchants[cur]
        merchant_order_id = self._key("mo-")
        op = self._in_uow(
            lambda conn: pay.create_order(
                conn,
                self.ledger,
                merchant_id=merchant,
                merchant_order_id=merchant_order_id,
                amount=amount,
                ttl_s=ttl_s,
            )
        )
        answer = self._attempt([], None, op, "pay.create_order")
        assert answer is not None
        fee = amount * FEE_BPS[cur] // pay.BPS
        assert (answer["fee"], answer["state"]) == (fee, "awaiting_user")
        self.m.orders.append(
            Order(
                int(answer["order_id"]),
                merchant,
                merchant_order_id,
                amount,
                cur,
                fee,
                self.clock.now_ns() + ttl_s * NS,
            )
        )
        self._remember("pay.create_order", op, answer)
        for u, pay_cur in payers:
            self._confirm_order(self.m.orders[-1], u, pay_cur)
        for refund in refunds:
            self._refund(self.m.orders[-1], merchant, refund)

    def _pay_expectation(self, u: int, pay_cur: str, order: Order) -> tuple[Expected, int]:
        """(expected error, amount debited from the user's ``pay_cur`` wallet) of paying ``order``."""
        cost = order.amount if pay_cur == order.cur else fx_cost(pay_cur, order.cur, order.amount)
        if not self.m.has(u, pay_cur):
            return NotFoundError, cost
        if order.state != "awaiting_user":
            return StateConflictError, cost
        if order.expires_at <= self.clock.now_ns():
            return OrderExpiredError, cost
        if cost > self.m.available(u, pay_cur):
            return InsufficientFundsError, cost
        return None, cost

    def _paid(self, order: Order, u: int, pay_cur: str, cost: int, answer: dict[str, Any]) -> None:
        order.state, order.user, order.pay_cur, order.pay_amount = "paid", u, pay_cur, cost
        self.m.bal(u, pay_cur).available -= cost
        assert (answer["state"], answer["pay_amount"], answer["pay_currency"]) == ("paid", cost, pay_cur)

    @precondition(lambda self: self.m.orders)
    @rule(data=st.data(), u=USER, pay_cur=PAY_CUR)
    def order_confirm(self, data: st.DataObject, u: int, pay_cur: str | None) -> None:
        """Pay an order — mostly an open one, else one already paid or expired (double / late confirm)."""
        self._confirm_order(self._pick(data, self.m.orders, lambda o: o.state == "awaiting_user"), u, pay_cur)

    def _confirm_order(self, order: Order, u: int, pay_cur: str | None) -> None:
        cur = pay_cur or order.cur
        key = self._key("confirm-")
        op = self._in_uow(
            lambda conn: pay.confirm(
                conn,
                self.ledger,
                idempotency_key=key,
                user_id=self.users[u],
                order_id=order.order_id,
                pay_currency=pay_cur,
                risk=RISK,
            )
        )
        expected, cost = self._pay_expectation(u, cur, order)
        answer = self._attempt([u], expected, op, "pay.confirm")
        if answer is None:
            return
        self._paid(order, u, cur, cost, answer)
        self._remember("pay.confirm", op, answer)

    @rule(u=USER, cur=CUR)
    def pay_code_issue(self, u: int, cur: str) -> None:
        op = self._in_uow(
            lambda conn: pay.issue_pay_code(conn, self.ledger, user_id=self.users[u], currency_code=cur)
        )
        answer = self._attempt([u], None if self.m.has(u, cur) else NotFoundError, op, "pay.issue_pay_code")
        if answer is not None:
            self.m.codes.append(PayCode(answer["code"], u, cur, int(answer["expires_at_ns"])))

    @precondition(lambda self: self.m.codes)
    @rule(data=st.data(), merchant_cur=CUR, amount=AMOUNT)
    def pay_code_charge(self, data: st.DataObject, merchant_cur: str, amount: int) -> None:
        code = self._pick(data, self.m.codes, lambda c: not c.used)
        merchant = self.merchants[merchant_cur]
        merchant_order_id = self._key("code-order-")
        key = self._key("charge-")
        op = self._in_uow(
            lambda conn: pay.charge_pay_code(
                conn,
                self.ledger,
                idempotency_key=key,
                merchant_id=merchant,
                code=code.code,
                merchant_order_id=merchant_order_id,
                amount=amount,
                risk=RISK,
            )
        )
        now = self.clock.now_ns()
        cost = 0
        if amount < 1:
            expected: Expected = InvalidAmountError
        elif code.used:
            expected = PayCodeUsedError
        elif code.expires_at <= now:
            expected = PayCodeExpiredError
        else:
            cost = amount if code.cur == merchant_cur else fx_cost(code.cur, merchant_cur, amount)
            expected = InsufficientFundsError if cost > self.m.available(code.user, code.cur) else None
        answer = self._attempt([code.user], expected, op, "pay.charge_pay_code")
        if answer is None:
            return
        code.used = True
        fee = amount * FEE_BPS[merchant_cur] // pay.BPS
        order = Order(int(answer["order_id"]), merchant, merchant_order_id, amount, merchant_cur, fee, 0)
        self.m.orders.append(order)
        self._paid(order, code.user, code.cur, cost, answer)
        self._remember("pay.charge_pay_code", op, answer)

    @precondition(lambda self: self.m.orders)
    @rule(data=st.data(), full=st.booleans(), amount=AMOUNT)
    def refund(self, data: st.DataObject, full: bool, amount: int) -> None:
        order = self._pick(data, self.m.orders, lambda o: o.state in pay.REFUNDABLE)
        wrong_merchant = data.draw(st.integers(0, 9)) == 0
        merchant = (
            self.merchants["USD" if order.cur == "TWD" else "TWD"] if wrong_merchant else order.merchant
        )
        if not full and data.draw(st.booleans()):  # often a part of what is left, sometimes exactly it
            amount = data.draw(st.integers(1, max(1, order.amount - order.refunded)))
        self._refund(order, merchant, None if full else amount)

    def _refund(self, order: Order, merchant: int, requested: int | None) -> None:
        key = self._key("refund-")
        op = self._in_uow(
            lambda conn: pay.refund(
                conn,
                self.ledger,
                idempotency_key=key,
                merchant_id=merchant,
                merchant_order_id=order.merchant_order_id,
                amount=requested,
                reason="returned",
            )
        )
        value = order.amount - order.refunded if requested is None else requested
        if merchant != order.merchant:
            expected: Expected = NotFoundError
        elif order.state not in pay.REFUNDABLE:
            expected = StateConflictError
        elif value < 1:
            expected = InvalidAmountError
        elif order.refunded + value > order.amount:
            expected = RefundExceedsPaymentError
        else:
            expected = None
        users = [] if order.user is None else [order.user]
        answer = self._attempt(users, expected, op, "pay.refund")
        if answer is None:
            return
        assert order.user is not None
        assert order.pay_cur is not None
        order.refunded += value
        fee_part = order.fee * order.refunded // order.amount - order.fee_refunded
        pay_part = order.pay_amount * order.refunded // order.amount - order.pay_refunded
        order.fee_refunded += fee_part
        order.pay_refunded += pay_part
        order.state = "refunded" if order.refunded == order.amount else "partially_refunded"
        back = value if order.pay_cur == order.cur else pay_part
        self.m.bal(order.user, order.pay_cur).available += back
        assert (answer["amount"], answer["fee_part"], answer["pay_part"]) == (value, fee_part, pay_part)
        assert answer["order"]["state"] == order.state
        self._remember("pay.refund", op, answer)

    # -- escrow -------------------------------------------------------------------------------------------
    @rule(
        merchant_cur=CUR,
        cur=CUR,
        amount=AMOUNT.filter(lambda a: a > 0),
        pay_timeout_s=st.sampled_from((60, 3_600, 86_400)),
        confirm_timeout_s=st.sampled_from((60, 3_600, 86_400)),
        charity=st.integers(0, 9),
        buyer=st.none() | USER,
    )
    def escrow_create(
        self,
        merchant_cur: str,
        cur: str,
        amount: int,
        pay_timeout_s: int,
        confirm_timeout_s: int,
        charity: int,
        buyer: int | None,
    ) -> None:
        """A merchant (or, refused, a charity) opens a trade; often a user pays it at once."""
        partner = self.charity if charity == 0 else self.merchants[merchant_cur]
        key, ref = self._key("trade-"), self._key("ref-")
        op = self._in_uow(
            lambda conn: escrow.create_trade(
                conn,
                self.ledger,
                idempotency_key=key,
                partner_id=partner,
                trade_ref=ref,
                currency_code=cur,
                amount=amount,
                pay_timeout_s=pay_timeout_s,
                confirm_timeout_s=confirm_timeout_s,
            )
        )
        answer = self._attempt([], ForbiddenError if partner == self.charity else None, op, "escrow.create")
        if answer is None:
            return
        assert answer["state"] == escrow.WAIT_BUYER_PAY
        deadline = self.clock.now_ns() + pay_timeout_s * NS
        self.m.trades.append(Trade(answer["trade_id"], partner, cur, amount, deadline, confirm_timeout_s))
        self._remember("escrow.create", op, answer)
        if buyer is not None:
            self._escrow_pay(self.m.trades[-1], buyer)

    def _trade(self, data: st.DataObject, *states: str) -> Trade:
        trade: Trade = self._pick(data, self.m.trades, lambda t: t.state in states)
        return trade

    @precondition(lambda self: self.m.trades)
    @rule(data=st.data(), u=USER)
    def escrow_pay(self, data: st.DataObject, u: int) -> None:
        self._escrow_pay(self._trade(data, escrow.WAIT_BUYER_PAY), u)

    def _escrow_pay(self, t: Trade, u: int) -> None:
        key = self._key("epay-")
        op = self._in_uow(
            lambda conn: escrow.pay(
                conn, self.ledger, idempotency_key=key, trade_id=t.trade_id, user_id=self.users[u]
            )
        )
        if t.buyer not in (None, u):
            expected: Expected = NotFoundError
        elif t.state == escrow.WAIT_BUYER_PAY and self.clock.now_ns() >= t.pay_deadline:
            expected = StateConflictError
        elif not self.m.has(u, t.cur):
            expected = NotFoundError
        elif t.state != escrow.WAIT_BUYER_PAY:
            expected = StateConflictError
        elif t.amount > self.m.available(u, t.cur):
            expected = InsufficientFundsError
        else:
            expected = None
        answer = self._attempt([u], expected, op, "escrow.pay")
        if answer is None:
            return
        t.state, t.buyer = escrow.WAIT_SELLER_SEND, u
        b = self.m.bal(u, t.cur)
        b.available -= t.amount
        b.held += t.amount
        assert answer["state"] == t.state
        self._remember("escrow.pay", op, answer)

    @precondition(lambda self: self.m.trades)
    @rule(data=st.data(), wrong_merchant=st.integers(0, 9), then_confirm=st.booleans())
    def escrow_ship(self, data: st.DataObject, wrong_merchant: int, then_confirm: bool) -> None:
        """The merchant marks a trade sent (sometimes the wrong merchant); often the buyer confirms."""
        t = self._trade(data, escrow.WAIT_SELLER_SEND)
        partner = self.charity if wrong_merchant == 0 else t.merchant
        key = self._key("ship-")
        op = self._in_uow(
            lambda conn: escrow.mark_sent(
                conn, self.ledger, idempotency_key=key, trade_id=t.trade_id, partner_id=partner
            )
        )
        if partner != t.merchant:
            expected: Expected = NotFoundError
        elif t.state != escrow.WAIT_SELLER_SEND:
            expected = StateConflictError
        else:
            expected = None
        answer = self._attempt([], expected, op, "escrow.ship")
        if answer is None:
            return
        t.state = escrow.WAIT_BUYER_CONFIRM
        t.confirm_deadline = self.clock.now_ns() + t.confirm_timeout_s * NS
        self._remember("escrow.ship", op, answer)
        if then_confirm and t.buyer is not None:
            self._escrow_confirm(t, t.buyer)

    @precondition(lambda self: self.m.trades)
    @rule(data=st.data(), u=USER)
    def escrow_confirm(self, data: st.DataObject, u: int) -> None:
        t = self._trade(data, escrow.WAIT_BUYER_CONFIRM)
        if t.buyer is not None and data.draw(st.booleans()):
            u = t.buyer
        self._escrow_confirm(t, u)

    def _escrow_confirm(self, t: Trade, u: int) -> None:
        key = self._key("econfirm-")
        op = self._in_uow(
            lambda conn: escrow.confirm(
                conn, self.ledger, idempotency_key=key, trade_id=t.trade_id, user_id=self.users[u]
            )
        )
        if t.buyer not in (None, u):
            expected: Expected = NotFoundError
        elif t.buyer is None or t.state != escrow.WAIT_BUYER_CONFIRM:
            expected = StateConflictError
        else:
            expected = None
        answer = self._attempt([u], expected, op, "escrow.confirm")
        if answer is None:
            return
        t.state = escrow.TRADE_FINISHED
        self.m.bal(u, t.cur).held -= t.amount
        self._remember("escrow.confirm", op, answer)

    @precondition(lambda self: self.m.trades)
    @rule(data=st.data(), who=st.sampled_from(("merchant", "merchant", "buyer", "admin", "other")), u=USER)
    def escrow_cancel(self, data: st.DataObject, who: str, u: int) -> None:
        t = self._trade(data, *escrow.OPEN_STATES)
        if who == "buyer" and t.buyer is not None and data.draw(st.booleans()):
            u = t.buyer
        actor = {
            "merchant": Actor("merchant", t.merchant),
            "other": Actor("merchant", self.charity),
            "buyer": Actor("buyer", self.users[u]),
            "admin": ADMIN,
        }[who]
        key = self._key("cancel-")
        op = self._in_uow(
            lambda conn: escrow.cancel(
                conn, self.ledger, idempotency_key=key, trade_id=t.trade_id, actor=actor
            )
        )
        allowed = (escrow.WAIT_SELLER_SEND,) if who == "buyer" else escrow.OPEN_STATES
        if who == "other" or (who == "buyer" and t.buyer not in (None, u)):
            expected: Expected = NotFoundError
        elif t.state not in allowed:
            expected = StateConflictError
        else:
            expected = None
        users = [] if t.buyer is None else [t.buyer]
        answer = self._attempt(users, expected, op, "escrow.cancel")
        if answer is None:
            return
        if t.state in (escrow.WAIT_SELLER_SEND, escrow.WAIT_BUYER_CONFIRM):
            assert t.buyer is not None
            b = self.m.bal(t.buyer, t.cur)
            b.held -= t.amount
            b.available += t.amount
        t.state = escrow.TRADE_CLOSED
        self._remember("escrow.cancel", op, answer)

    # -- deposit holds ------------------------------------------------------------------------------------
    @rule(
        u=USER,
        product=st.sampled_from(("sedan", "sedan", "scooter", "bike")),
        by=st.sampled_from(("owner", "owner", "admin", "other")),
        expires_in_s=st.sampled_from((60, 600, 3_600, 86_400)),
    )
    def hold_place(self, u: int, product: str, by: str, expires_in_s: int) -> None:
        cur = "USD" if product == "scooter" else "TWD"
        owner = self.merchants[cur]
        actor = {
            "owner": Actor("merchant", owner),
            "other": Actor("merchant", self.merchants["USD" if cur == "TWD" else "TWD"]),
            "admin": ADMIN,
        }[by]
        key, ref = self._key("hold-"), self._key("rental-")
        op = self._in_uow(
            lambda conn: holds.place_hold(
                conn,
                self.ledger,
                idempotency_key=key,
                actor=actor,
                product=product,
                user_id=self.users[u],
                currency_code=cur,
                ref=ref,
                expires_in_s=expires_in_s,
            )
        )
        amount = SEDAN_OVERRIDE if (product, u) == ("sedan", 1) else DEPOSITS.get((product, cur), 0)
        if not self.m.has(u, cur) or product == "bike" or by == "other":
            expected: Expected = NotFoundError
        elif amount > self.m.available(u, cur):
            expected = InsufficientFundsError
        else:
            expected = None
        answer = self._attempt([u], expected, op, "holds.place")
        if answer is None:
            return
        assert (answer["amount"], answer["state"]) == (amount, "held")
        expires_at = int(answer["expires_at_ns"])
        assert (
            self.clock.now_ns() + expires_in_s * NS
            <= expires_at
            < self.clock.now_ns() + (expires_in_s + 1) * NS
        )
        self.m.holds.append(Hold(answer["hold_id"], owner, u, cur, amount, expires_at))
        b = self.m.bal(u, cur)
        b.available -= amount
        b.held += amount
        self._remember("holds.place", op, answer)

    def _hold_actor(self, h: Hold, by: str) -> Actor:
        other = next(m for m in self.merchants.values() if m != h.merchant)
        return {"owner": Actor("merchant", h.merchant), "admin": ADMIN, "other": Actor("merchant", other)}[by]

    def _hold_finish_error(self, h: Hold) -> Expected:
        if h.state == "expired" or (h.state == "held" and self.clock.now_ns() >= h.expires_at):
            return HoldExpiredError
        return StateConflictError if h.state != "held" else None

    @precondition(lambda self: self.m.holds)
    @rule(data=st.data(), by=st.sampled_from(("owner", "owner", "admin", "other")), amount=AMOUNT)
    def hold_capture(self, data: st.DataObject, by: str, amount: int) -> None:
        h = self._pick(data, self.m.holds, lambda h: h.state == "held")
        if data.draw(st.booleans()):
            amount = data.draw(st.integers(1, h.amount))
        key = self._key("capture-")
        op = self._in_uow(
            lambda conn: holds.capture(
                conn,
                self.ledger,
                idempotency_key=key,
                hold_id=h.hold_id,
                actor=self._hold_actor(h, by),
                amount=amount,
                reason="scratch on the door",
            )
        )
        if by == "other":
            expected: Expected = NotFoundError
        elif amount < 1:
            expected = InvalidAmountError
        elif amount > h.amount:
            expected = ExceedsHoldError
        else:
            expected = self._hold_finish_error(h)
        answer = self._attempt([h.user], expected, op, "holds.capture")
        if answer is None:
            return
        h.state = "captured"
        b = self.m.bal(h.user, h.cur)
        b.held -= h.amount
        b.available += h.amount - amount
        assert (answer["captured"], answer["released"]) == (amount, h.amount - amount)
        self._remember("holds.capture", op, answer)

    @precondition(lambda self: self.m.holds)
    @rule(data=st.data(), by=st.sampled_from(("owner", "owner", "admin", "other")))
    def hold_release(self, data: st.DataObject, by: str) -> None:
        h = self._pick(data, self.m.holds, lambda h: h.state == "held")
        key = self._key("release-")
        op = self._in_uow(
            lambda conn: holds.release(
                conn, self.ledger, idempotency_key=key, hold_id=h.hold_id, actor=self._hold_actor(h, by)
            )
        )
        expected = NotFoundError if by == "other" else self._hold_finish_error(h)
        answer = self._attempt([h.user], expected, op, "holds.release")
        if answer is None:
            return
        h.state = "released"
        b = self.m.bal(h.user, h.cur)
        b.held -= h.amount
        b.available += h.amount
        self._remember("holds.release", op, answer)

    # -- donations ------------------------------------------------------------------------------------------
    @rule(u=USER, campaign=st.integers(0, 1), amount=AMOUNT)
    def donate(self, u: int, campaign: int, amount: int) -> None:
        campaign_id, cur, starts, ends = self.campaigns[campaign]
        key = self._key("donation-")
        op = self._in_uow(
            lambda conn: donations.donate(
                conn,
                self.ledger,
                idempotency_key=key,
                user_id=self.users[u],
                campaign_id=campaign_id,
                amount=amount,
            )
        )
        if amount < 1:
            expected: Expected = InvalidAmountError
        elif not starts <= self.clock.now_ns() < ends:
            expected = StateConflictError
        elif not self.m.has(u, cur):
            expected = NotFoundError
        elif amount > self.m.available(u, cur):
            expected = InsufficientFundsError
        else:
            expected = None
        answer = self._attempt([u], expected, op, "donations.donate")
        if answer is None:
            return
        self.m.bal(u, cur).available -= amount
        self._remember("donations.donate", op, answer)

    # -- withdrawals ----------------------------------------------------------------------------------------
    @rule(
        u=USER,
        cur=CUR,
        amount=st.one_of(st.integers(1, 150), st.integers(100, 8_000), st.integers(8_000, 25_000)),
        mode=st.sampled_from(("ok", "ok", "fail", "timeout", "timeout_declined", "lost")),
    )
    def withdraw(self, u: int, cur: str, amount: int, mode: str) -> None:
        account = f"ACCT00{u}"
        key = self._key("withdrawal-")

        def op() -> dict[str, Any]:
            return withdrawals.request_withdrawal(
                self.db,
                self.ledger,
                self.provider,
                idempotency_key=key,
                user_id=self.users[u],
                destination_id=self.destinations[u],
                currency_code=cur,
                amount=amount,
                limits=LIMITS,
                risk=RISK,
            )

        now = self.clock.now_ns()
        if not self.m.has(u, cur):
            expected: Expected = NotFoundError
        elif amount < LIMITS.min_amount:
            expected = InvalidAmountError
        elif self.m.bal(u, cur).debt > 0:
            expected = FrozenError
        elif self.m.used_today(u, cur, now) + amount > LIMITS.daily_limit:
            expected = LimitExceededError
        elif amount > self.m.available(u, cur):
            expected = InsufficientFundsError
        else:
            expected = None
        self.bank.set_faults(account, [mode])
        try:
            answer = self._attempt([u], expected, op, "withdrawals.request")
        finally:
            self.bank.set_faults(account, [])  # an unused fault must not hit a later resubmission
        if answer is None:
            return
        state = {"ok": "paid", "fail": "failed"}.get(mode, "unknown")
        outcome = "failed" if mode in ("fail", "timeout_declined") else "paid"
        w = Withdrawal(int(answer["withdrawal_id"]), u, cur, amount, now, state, outcome)
        self.m.withdrawals.append(w)
        assert answer["state"] == state
        b = self.m.bal(u, cur)
        if state == "paid":
            b.available -= amount
        elif state == "unknown":
            b.available -= amount
            b.held += amount

        def check(again: dict[str, Any]) -> None:  # a replay answers the withdrawal as it stands now
            assert (again["withdrawal_id"], again["state"]) == (w.withdrawal_id, w.state)

        self.replays.append(Replay("withdrawals.request", op, check))

    @precondition(lambda self: any(w.state == "unknown" for w in self.m.withdrawals))
    @rule()
    def resolve_withdrawals(self) -> None:
        report = withdrawals.resolve_unknown(self.db, self.ledger, self.provider, stale_after_ns=DAY_NS * 365)
        unknown = [w for w in self.m.withdrawals if w.state == "unknown"]
        assert (report.examined, report.still_unknown, report.conflicts) == (len(unknown), 0, 0)
        for w in unknown:
            w.state = w.outcome
            b = self.m.bal(w.user, w.cur)
            b.held -= w.amount
            if w.outcome == "failed":
                b.available += w.amount

    # -- FX -------------------------------------------------------------------------------------------------
    @rule(u=USER, source=CUR, amount=AMOUNT)
    def fx_convert(self, u: int, source: str, amount: int) -> None:
        target = "USD" if source == "TWD" else "TWD"
        key = self._key("fx-")
        op = self._in_uow(
            lambda conn: fx.convert(
                conn,
                self.ledger,
                idempotency_key=key,
                user_id=self.users[u],
                from_currency=source,
                to_currency=target,
                amount=amount,
            )
        )
        received = fx_receive(source, target, amount)
        if amount < 1:
            expected: Expected = InvalidAmountError
        elif not self.m.has(u, source):
            expected = NotFoundError
        elif received < 1:
            expected = InvalidAmountError
        elif amount > self.m.available(u, source):
            expected = InsufficientFundsError
        else:
            expected = None
        answer = self._attempt([u], expected, op, "fx.convert")
        if answer is None:
            return
        assert (answer["amount_from"], answer["amount_to"]) == (amount, received)
        self.m.bal(u, source).available -= amount
        self.m.wallets.setdefault((u, target), Bal()).available += received
        self._remember("fx.convert", op, answer)

    # -- idempotent retries ---------------------------------------------------------------------------------
    @precondition(lambda self: self.replays)
    @rule(data=st.data())
    def resend_earlier_operation(self, data: st.DataObject) -> None:
        replay = data.draw(st.sampled_from(self.replays))
        before = check_ledger_invariants(self.db)
        replay.check(replay.op())
        after = check_ledger_invariants(self.db)
        assert after.transfer_count == before.transfer_count, f"re-sent {replay.label} moved money"
        assert after.accounts == before.accounts, f"re-sent {replay.label} changed a balance"

    # -- after every step -------------------------------------------------------------------------------
    @invariant()
    def wallets_match_model_and_ledger(self) -> None:
        ledger = check_ledger_invariants(self.db).accounts  # id -> (dp, dpo, cp, cpo, flags), all checked
        with self.db.uow(write=False) as conn:
            for u, user_id in enumerate(self.users):
                for cur in CURRENCIES:
                    expected = self.m.wallets.get((u, cur))
                    account_id = service.user_account(user_id, currency(cur)).id
                    if expected is None:
                        with pytest.raises(NotFoundError):
                            service.view(conn, self.ledger, user_id, cur)
                        assert account_id not in ledger, f"user {u} has {cur} accounts but no wallet"
                        continue
                    v = service.view(conn, self.ledger, user_id, cur)
                    got = Bal(v.available, v.pending, v.held, v.debt, v.lifetime_earned)
                    assert got == expected, f"user {u} {cur}: view {got} != model {expected}"
                    dp, dpo, cp, cpo, _ = ledger[account_id]
                    debt_dp, debt_dpo, debt_cp, debt_cpo, _ = ledger[
                        service.debt_account(user_id, currency(cur)).id
                    ]
                    assert debt_dp == debt_cp == 0
                    # available = credits_posted − debits_posted − debits_pending, pending = credits_pending,
                    # held = debits_pending, debt = the debt account's debits_posted − credits_posted
                    raw = Bal(cpo - dpo - dp, cp, dp, debt_dpo - debt_cpo, v.lifetime_earned)
                    assert raw == expected, f"user {u} {cur}: ledger {raw} != model {expected}"
                    pending_items = sorted((p.amount, p.ref, p.release_at_ns) for p in v.pending_items)
                    assert pending_items == sorted(
                        (r.amount, r.ref, r.release_at)
                        for r in self.m.rewards
                        if (r.user, r.cur, r.status) == (u, cur, "pending")
                    )


@pytest.mark.slow
def test_wallet_flows_state_machine(db_target: DbTarget) -> None:
    db = db_target.open()
    try:
        run_state_machine_as_test(
            lambda: WalletMachine(db),
            settings=settings(
                # ~20 x 30 steps per database: about 20 s on SQLite and 40 s on PostgreSQL (2 cores).
                max_examples=20,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                # No shrinking: on these machines it can take minutes; the failing steps are printed anyway.
                phases=[Phase.explicit, Phase.generate],
            ),
        )
    finally:
        db.dispose()
