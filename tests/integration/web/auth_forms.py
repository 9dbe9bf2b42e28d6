"""The account forms as a browser sends them (with the CSRF token the app gave the client)."""

from __future__ import annotations

import httpx

from tests.integration.web.conftest import csrf_token

PASSWORD = "correct horse battery"


def sign_up(http: httpx.Client, handle: str, password: str = PASSWORD, **fields: str) -> httpx.Response:
    data = {"handle": handle, "password": password, "csrftoken": csrf_token(http), **fields}
    return http.post("/app/signup", data=data)


def sign_in(http: httpx.Client, handle: str, password: str = PASSWORD, **fields: str) -> httpx.Response:
    data = {"handle": handle, "password": password, "csrftoken": csrf_token(http), **fields}
    return http.post("/app/signin", data=data)


def post_form(http: httpx.Client, path: str) -> httpx.Response:
    return http.post(path, data={"csrftoken": csrf_token(http)})


def signed_in_as(http: httpx.Client) -> str | None:
    """The handle the account page shows for ``http``'s session, or ``None`` (sent to sign in)."""
    page = http.get("/app/account")
    if page.status_code != 200:
        assert page.status_code == 303
        assert page.headers["location"].startswith("/app/signin")
        return None
    marker = "Signed in as "
    return page.text.split(marker, 1)[1].split("<", 1)[0].strip()
