"""The service shell: health, readiness, metrics, request ids, problem+json, schema guard, CLI doctor."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from earnloop.api.app import create_app
from earnloop.config import Settings
from earnloop.db.engine import database_from_settings, make_database
from earnloop.db.migrate import SchemaBehindError
from tests.conftest import EARNLOOP
from tests.live_server import free_port, wait_until_up


def test_health_ready_and_metrics(api: httpx.Client) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["schema_revision"] is not None
    metrics = api.get("/metrics").text
    assert 'earnloop_http_requests_total{method="GET",route="/healthz",status="200"}' in metrics


def _healthz_count(api: httpx.Client) -> float:
    prefix = 'earnloop_http_requests_total{method="GET",route="/healthz",status="200"} '
    lines = [line for line in api.get("/metrics").text.splitlines() if line.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


def test_every_request_is_counted_in_the_metrics(api: httpx.Client) -> None:
    before = _healthz_count(api)
    for _ in range(3):
        api.get("/healthz")
    assert _healthz_count(api) == before + 3


def test_request_id_is_echoed_or_generated(api: httpx.Client) -> None:
    assert api.get("/healthz", headers={"X-Request-ID": "req-42"}).headers["x-request-id"] == "req-42"
    generated = api.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32


def test_unknown_route_is_problem_json(api: httpx.Client) -> None:
    response = api.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/not-found")


def test_openapi_declares_problem_responses(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    post = spec["paths"]["/v1/ledger/transfers"]["post"]
    assert {"401", "422"} <= set(post["responses"])
    assert "application/problem+json" in post["responses"]["422"]["content"]
    postbacks = spec["paths"]["/postbacks/{provider}"]  # on the app itself, ahead of the routers
    assert set(postbacks) == {"get", "post"}
    assert postbacks["post"]["parameters"][0]["name"] == "provider"
    assert {"200", "403", "422"} <= set(postbacks["post"]["responses"])


def test_app_refuses_a_schema_that_is_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with pytest.raises(SchemaBehindError, match="earnloop db upgrade"):
        create_app(Settings(database_url=url), db=make_database(url))


@pytest.mark.parametrize(("configured", "expected_kib"), [(None, 64 * 1024), ("8", 8 * 1024)])
def test_every_sqlite_connection_gets_the_configured_page_cache_and_memory_temp_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configured: str | None, expected_kib: int
) -> None:
    if configured is not None:
        monkeypatch.setenv("EARNLOOP_SQLITE_CACHE_MIB", configured)
    db = database_from_settings(Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}"))
    try:
        for _ in range(2):  # two pooled connections at once, and again once they are reused
            with db.uow(write=False) as first, db.uow(write=False) as second:
                sizes = {c.exec_driver_sql("PRAGMA cache_size").scalar_one() for c in (first, second)}
                temp_stores = {c.exec_driver_sql("PRAGMA temp_store").scalar_one() for c in (first, second)}
            assert sizes == {-expected_kib}
            assert temp_stores == {2}  # MEMORY: savepoints' journals stay off the disk (ADR 0012)
    finally:
        db.dispose()


def test_a_sqlite_page_cache_of_zero_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARNLOOP_SQLITE_CACHE_MIB", "0")
    with pytest.raises(ValidationError, match="sqlite_cache_mib"):
        Settings()


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "EARNLOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}", **env}
    return subprocess.run(
        [EARNLOOP, *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_and_doctor_refuse_an_unmigrated_database(tmp_path: Path) -> None:
    served = _run(["serve", "--port", str(free_port())], tmp_path)
    assert served.returncode != 0
    assert "earnloop db upgrade" in served.stderr
    doctor = _run(["doctor"], tmp_path)
    assert doctor.returncode == 1
    assert "behind" in doctor.stdout
    assert _run(["db", "upgrade"], tmp_path).returncode == 0
    healthy = _run(["doctor"], tmp_path)
    assert healthy.returncode == 0, healthy.stdout
    assert "schema current" in healthy.stdout


def test_doctor_reports_an_unreachable_redis(tmp_path: Path) -> None:
    assert _run(["db", "upgrade"], tmp_path).returncode == 0
    doctor = _run(["doctor"], tmp_path, EARNLOOP_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert doctor.returncode == 1
    assert "redis     unreachable" in doctor.stdout


def test_server_logs_are_json_with_request_ids_and_never_the_token(tmp_path: Path) -> None:
    token = "s3cret-admin-token-do-not-log-0123"
    assert _run(["db", "upgrade"], tmp_path).returncode == 0
    port = free_port()
    env = {
        **os.environ,
        "EARNLOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}",
        "EARNLOOP_ADMIN_TOKEN": token,
    }
    server = subprocess.Popen(
        [EARNLOOP, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server)
        auth = {"Authorization": f"Bearer {token}", "X-Request-ID": "trace-me"}
        assert httpx.get(f"{base}/v1/ledger/accounts?ids=1", headers=auth).status_code == 200
        wrong = httpx.get(f"{base}/v1/ledger/accounts?ids=1", headers={"Authorization": f"Bearer {token}x"})
        assert wrong.status_code == 401
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert token not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert all(line.startswith("{") for line in lines), lines
    assert any('"request_id": "trace-me"' in line for line in lines)


@pytest.mark.redis
def test_doctor_reports_a_healthy_redis(tmp_path: Path, redis_url: str) -> None:
    assert _run(["db", "upgrade"], tmp_path).returncode == 0
    doctor = _run(["doctor"], tmp_path, EARNLOOP_REDIS_URL=redis_url)
    assert doctor.returncode == 0, doctor.stdout
    assert "redis     ok" in doctor.stdout


def test_production_refuses_the_fake_payout_provider(tmp_path: Path) -> None:
    from earnloop.db.migrate import upgrade
    from earnloop.wallet.withdrawals.payouts import PayoutConfigError

    url = f"sqlite:///{tmp_path / 'prod.db'}"
    db = make_database(url)
    upgrade(db)
    with pytest.raises(PayoutConfigError, match="EARNLOOP_PAYOUT_PROVIDER_URL"):
        create_app(Settings(database_url=url, environment="production"), db=db)
    app = create_app(
        Settings(
            database_url=url, environment="production", payout_provider_url="http://127.0.0.1:9/payouts"
        ),
        db=db,
    )
    assert not any(getattr(route, "path", "") == "/fake-payouts" for route in app.routes)
