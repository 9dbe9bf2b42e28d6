"""The wallet commands as a user runs them, on SQLite and PostgreSQL."""

import json

from tests.conftest import Cli


def test_users_wallet_and_cashback_commands(cli: Cli) -> None:
    user = json.loads(cli("users", "create", "frank").stdout)
    assert cli("wallet", "open", str(user["user_id"]), "TWD").returncode == 0
    credited = cli(
        "cashback",
        "credit",
        "manual",
        "welcome-1",
        str(user["user_id"]),
        "TWD",
        "500",
        "--release-at-ns",
        "1",
    )
    assert credited.returncode == 0, credited.stderr
    assert "1 confirmed" in cli("cashback", "confirm-due").stdout
    shown = cli("wallet", "show", str(user["user_id"]), "TWD").stdout
    assert "500" in shown
    bad = cli(
        "wallet",
        "adjust",
        str(user["user_id"]),
        "TWD",
        "900",
        "--direction",
        "debit",
        "--reason",
        "x",
        "--key",
        "k1",
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: not enough available balance")
    assert len(bad.stderr.strip().splitlines()) == 1
    unknown = cli("wallet", "show", "999", "TWD")
    assert unknown.returncode == 1
    assert "no TWD wallet" in unknown.stderr
