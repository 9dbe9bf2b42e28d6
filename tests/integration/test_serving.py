"""How ``earnloop serve`` runs, over real HTTP against the real command (SQLite and PostgreSQL): the
client IP comes from proxy headers only when the peer is a listed trusted proxy
(``EARNLOOP_TRUSTED_PROXIES``), and ``/metrics`` is not open to anonymous callers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from earnloop.db.engine import Database
from earnloop.tracking.models import tracking_postbacks
from tests.conftest import Cli, DbTarget
from tests.live_server import earnloop_serve, free_port

FORGED_IP = "45.92.116.1"  # inside AppsFlyer's published egress block: what an allow-list would accept
ADMIN = "serve-admin-token-0123456789abcdef"
METRICS = "scrape-token-0123456789abcdef0123"


def _stored_client_ips(db: Database) -> list[str]:
    """The client IP of every stored postback (every postback is stored with its outcome)."""
    with db.uow(write=False) as conn:
        rows = conn.execute(select(tracking_postbacks.c.client_ip).order_by(tracking_postbacks.c.id))
        return [r.client_ip for r in rows]


def _postback_forged_from_loopback(base_url: str) -> None:
    httpx.post(
        f"{base_url}/postbacks/appsflyer",
        content=b"{}",
        headers={
            "content-type": "application/json",
            "X-Forwarded-For": FORGED_IP,
            "X-Forwarded-Proto": "https",
        },
        timeout=30,
    )


@pytest.mark.parametrize("trusted", [None, "", "10.0.0.0/8, 192.168.1.1"])
def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    db: Database, db_target: DbTarget, tmp_path: Path, trusted: str | None
) -> None:
    env = {} if trusted is None else {"EARNLOOP_TRUSTED_PROXIES": trusted}
    with earnloop_serve(db_target.cli_url, tmp_path, **env) as base_url:
        _postback_forged_from_loopback(base_url)
    assert _stored_client_ips(db) == ["127.0.0.1"]


@pytest.mark.parametrize("trusted", ["127.0.0.1", "10.0.0.0/8,127.0.0.0/8"])
def test_forwarded_for_from_a_trusted_proxy_is_the_client_ip(
    db: Database, db_target: DbTarget, tmp_path: Path, trusted: str
) -> None:
    with earnloop_serve(db_target.cli_url, tmp_path, EARNLOOP_TRUSTED_PROXIES=trusted) as base_url:
        _postback_forged_from_loopback(base_url)
    assert _stored_client_ips(db) == [FORGED_IP]


def test_a_malformed_trusted_proxy_setting_stops_serve_with_one_line(
    db: Database, db_target: DbTarget, tmp_path: Path
) -> None:
    port = str(free_port())  # were it to start, not on the default port
    result = Cli(db_target, tmp_path)("serve", "--port", port, EARNLOOP_TRUSTED_PROXIES="127.0.0.1,not-an-ip")
    assert result.returncode != 0
    assert "EARNLOOP_TRUSTED_PROXIES" in result.stderr
    assert "Traceback" not in result.stderr


def test_metrics_need_a_token(db: Database, db_target: DbTarget, tmp_path: Path) -> None:
    with earnloop_serve(db_target.cli_url, tmp_path, EARNLOOP_ADMIN_TOKEN=ADMIN) as base_url:
        anonymous = httpx.get(f"{base_url}/metrics", timeout=30)
        wrong = httpx.get(f"{base_url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=30)
        admin = httpx.get(f"{base_url}/metrics", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)
    for refused in (anonymous, wrong):
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/unauthorized")
        assert "earnloop_http_requests_total" not in refused.text
    assert admin.status_code == 200
    assert "earnloop_http_requests_total" in admin.text


def test_metrics_scrape_token_is_not_the_admin_token(
    db: Database, db_target: DbTarget, tmp_path: Path
) -> None:
    env = {"EARNLOOP_ADMIN_TOKEN": ADMIN, "EARNLOOP_METRICS_TOKEN": METRICS}
    with earnloop_serve(db_target.cli_url, tmp_path, **env) as base_url:
        bearer = {"Authorization": f"Bearer {METRICS}"}
        scrape = httpx.get(f"{base_url}/metrics", headers=bearer, timeout=30)
        ledger = httpx.get(f"{base_url}/v1/ledger/accounts/1/balance", headers=bearer, timeout=30)
        anonymous = httpx.get(f"{base_url}/metrics", timeout=30)
    assert scrape.status_code == 200
    assert "earnloop_http_requests_total" in scrape.text
    assert ledger.status_code == 401  # the scrape token opens /metrics and nothing else
    assert anonymous.status_code == 401
