"""Phone-number reputation over real HTTP and the real ``earnloop`` command, on SQLite and PostgreSQL:
a trusted reporter flags a number within the reporting request, a single untrusted report does not,
one reporter cannot inflate a score, and :class:`PhoneFeatures` gives the rule fields."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from earnloop.auth import service as auth
from earnloop.db.engine import Database
from earnloop.risk import phones
from earnloop.risk.events import RiskEvent
from earnloop.risk.phone_models import phone_numbers, phone_reporters
from tests.conftest import Cli, DbTarget, reset_ledger
from tests.integration.risk.world import RiskApp, age_user, fingerprint, risk_app

NUMBER = "+886912345678"


@pytest.fixture
def app(db: Database, db_target: DbTarget, tmp_path: Path) -> Iterator[RiskApp]:
    yield from risk_app(db, db_target, tmp_path / "feed.pem")


def test_a_partner_report_flags_the_number_in_the_same_request(app: RiskApp) -> None:
    _, api_key = app.new_partner("telco")
    _, token = app.new_user("caller")
    with app.as_partner(api_key) as partner, app.as_user(token) as user:
        reported = partner.post(
            "/v1/partner/phone-reports", json={"number": "0912-345-678", "category": "phishing"}
        )
        assert reported.status_code == 201, reported.text
        assert reported.json()["flagged"] is True
        looked = user.get(f"/v1/phone-reputation/{NUMBER}")
    assert looked.status_code == 200, looked.text
    body = looked.json()
    assert (body["number"], body["risk_level"], body["flagged"], body["report_count"]) == (
        NUMBER,
        "high",
        True,
        1,
    )
    assert body["categories"] == [{"category": "phishing", "reports": 1}]


def test_a_single_report_by_a_new_user_does_not_flag(app: RiskApp) -> None:
    _, token = app.new_user("newcomer")
    with app.as_user(token) as user:
        reported = user.post("/v1/me/phone-reports", json={"number": NUMBER, "category": "scam"})
        assert reported.status_code == 201, reported.text
    looked = app.admin.get(f"/v1/phone-reputation/{NUMBER}").json()
    assert looked["flagged"] is False
    assert looked["risk_level"] == "low"
    assert looked["report_count"] == 1


def test_two_established_users_flag_a_number(app: RiskApp, db: Database) -> None:
    reports = []
    for handle in ("old-timer-1", "old-timer-2"):
        user_id, token = app.new_user(handle)
        age_user(db, user_id, days=400)
        with app.as_user(token) as user:
            reports.append(
                user.post("/v1/me/phone-reports", json={"number": NUMBER, "category": "scam"}).json()
            )
    assert [r["risk_level"] for r in reports] == ["medium", "high"]
    assert reports[-1]["flagged"] is True


def test_one_reporter_reporting_again_and_again_counts_once(app: RiskApp) -> None:
    _, token = app.new_user("repeater")
    spellings = [NUMBER, "0912345678", "0912 345 678", "+886-912-345-678", "(09) 1234-5678"]
    with app.as_user(token) as user:
        answers = [
            user.post("/v1/me/phone-reports", json={"number": n, "category": c}).json()
            for n, c in zip(spellings, ["scam", "spam", "fraud", "scam", "robocall"], strict=True)
        ]
    assert {a["score"] for a in answers} == {answers[0]["score"]}
    assert {a["report_count"] for a in answers} == {1}
    assert answers[-1]["categories"] == [{"category": "robocall", "reports": 1}]
    assert answers[-1]["flagged"] is False


def test_a_user_who_keeps_reporting_numbers_nobody_else_reports_weighs_less(
    app: RiskApp, db: Database
) -> None:
    user_id, token = app.new_user("crier")
    age_user(db, user_id, days=400)
    numbers = [f"+88691234{n:04d}" for n in range(10)]
    with app.as_user(token) as user:
        first = user.post("/v1/me/phone-reports", json={"number": numbers[0], "category": "spam"}).json()
        for number in numbers[1:]:
            user.post("/v1/me/phone-reports", json={"number": number, "category": "spam"})
    later = app.admin.get(f"/v1/phone-reputation/{numbers[0]}").json()
    assert first["score"] == phones.USER_WEIGHT_MAX
    assert 0 < later["score"] < first["score"]


@pytest.mark.parametrize("number", ["12", "+999123", "not-a-number", "0912345678901234567890"])
def test_invalid_numbers_are_problems_and_change_nothing(app: RiskApp, db: Database, number: str) -> None:
    _, api_key = app.new_partner("strict")
    before = fingerprint(db)
    with app.as_partner(api_key) as partner:
        reported = partner.post("/v1/partner/phone-reports", json={"number": number, "category": "scam"})
        looked = partner.get(f"/v1/phone-reputation/{number}")
    for response in (reported, looked):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert fingerprint(db) == before


def test_reports_and_lookups_need_credentials(app: RiskApp) -> None:
    with app.as_user("u_not-a-token") as stranger:
        assert stranger.get(f"/v1/phone-reputation/{NUMBER}").status_code == 401
        assert (
            stranger.post("/v1/me/phone-reports", json={"number": NUMBER, "category": "scam"}).status_code
            == 401
        )
    unknown_category = app.admin.post(
        "/v1/partner/phone-reports", json={"number": NUMBER, "category": "weird"}
    )
    assert unknown_category.status_code == 401


def test_cli_reports_and_looks_up_and_refuses_a_bad_number_in_one_line(cli: Cli, db: Database) -> None:
    made = cli("users", "create-partner", "telco", "--kind", "merchant")
    partner_id = json.loads(made.stdout)["partner_id"]
    reported = cli(
        "risk", "phone", "report", "0912345678", "--category", "scam", "--partner-id", str(partner_id)
    )
    assert reported.returncode == 0, reported.stderr
    looked = cli("risk", "phone", "lookup", "+886 912 345 678")
    assert looked.returncode == 0, looked.stderr
    body = json.loads(looked.stdout)
    assert (body["number"], body["flagged"], body["risk_level"]) == (NUMBER, True, "high")
    before = fingerprint(db)
    bad = cli("risk", "phone", "lookup", "12")
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: phone number '12' is not a valid number")
    assert bad.stderr.count("\n") == 1
    nobody = cli("risk", "phone", "report", NUMBER, "--category", "scam", "--user-id", "999")
    assert nobody.returncode == 1
    assert fingerprint(db) == before


def test_phone_features_give_the_score_and_flag_as_of_the_event(db: Database) -> None:
    features = phones.PhoneFeatures()
    assert dict(features.fields) == {"phone_risk_score": int, "phone_flagged": bool}
    before_report = time.time_ns()
    with db.uow() as conn:
        partner = auth.create_partner(conn, "telco", "merchant", "TWD")
        phones.report(conn, "0912345678", "scam", reporter_kind="partner", reporter_id=partner.id)
    now = time.time_ns()
    with db.uow(write=False) as conn:
        flagged = features.read(conn, RiskEvent("account_change", "a", now, keys={"phone": "0912 345 678"}))
        earlier = features.read(conn, RiskEvent("account_change", "b", before_report, keys={"phone": NUMBER}))
        no_phone = features.read(conn, RiskEvent("login", "c", now, keys={"user": "1"}))
        bad_phone = features.read(conn, RiskEvent("login", "d", now, keys={"phone": "12"}))
    assert flagged == {"phone_risk_score": phones.PARTNER_WEIGHT, "phone_flagged": True}
    assert earlier == no_phone == bad_phone == {"phone_risk_score": 0, "phone_flagged": False}


@pytest.mark.postgres
def test_concurrent_reporters_are_each_counted_once(postgres_target: DbTarget) -> None:
    db = postgres_target.open()
    reset_ledger(db)
    try:
        with db.uow() as conn:
            user_ids = [auth.create_user(conn, f"racer-{i}").id for i in range(8)]
        barrier = threading.Barrier(len(user_ids))

        def report(user_id: int) -> None:
            barrier.wait()
            with db.uow() as conn:
                phones.report(conn, NUMBER, "scam", reporter_kind="user", reporter_id=user_id)

        threads = [threading.Thread(target=report, args=(u,)) for u in user_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with db.uow(write=False) as conn:
            reporters = conn.execute(select(phone_numbers.c.reporters)).scalar_one()
            stats = conn.execute(select(phone_reporters.c.reports, phone_reporters.c.corroborated)).all()
            found = phones.reputation_of(conn, NUMBER)
        assert reporters == len(user_ids)
        assert sorted(stats) == [(1, 1)] * len(user_ids)
        assert found.report_count == len(user_ids)
    finally:
        db.dispose()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    reports=st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(phones.CATEGORIES)), min_size=1, max_size=12
    )
)
def test_the_score_depends_on_who_reported_not_how_often(
    sqlite_target: DbTarget, reports: list[tuple[int, str]]
) -> None:
    db = sqlite_target.open()
    reset_ledger(db)
    try:
        with db.uow() as conn:
            partners = [auth.create_partner(conn, f"p{i}", "merchant", "TWD").id for i in range(4)]
            for index, category in reports:
                phones.report(conn, NUMBER, category, reporter_kind="partner", reporter_id=partners[index])
            found = phones.reputation_of(conn, NUMBER)
        distinct = {index for index, _ in reports}
        assert found.report_count == len(distinct)
        assert found.score == min(phones.SCORE_MAX, phones.PARTNER_WEIGHT * len(distinct))
        assert sum(n for _, n in found.categories) == len(distinct)
        assert found.flagged
    finally:
        db.dispose()
