"""Request authentication: admin bearer token, user tokens, partner API keys; and idempotency keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from earnloop.api.context import AppContext, app_context, run_read
from earnloop.api.problems import ProblemError
from earnloop.auth import service as auth
from earnloop.auth.admin_token import token_matches
from earnloop.idempotency.service import KEY_MAX_LEN

_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def require_admin(request: Request, credentials: Credentials) -> AppContext:
    ctx = app_context(request)
    if credentials is None or not token_matches(ctx.admin_token, credentials.credentials):
        raise ProblemError(
            401, "unauthorized", "Admin token required", "send `Authorization: Bearer <token>`"
        )
    return ctx


@dataclass(frozen=True)
class UserRequest:
    ctx: AppContext
    user_id: int


async def require_user(request: Request, credentials: Credentials) -> UserRequest:
    ctx = app_context(request)
    if credentials is not None:
        token = credentials.credentials
        user_id = await run_read(ctx, lambda conn: auth.user_for_token(conn, token))
        if user_id is not None:
            return UserRequest(ctx, user_id)
    raise ProblemError(
        401, "unauthorized", "User token required", "send `Authorization: Bearer <user token>`"
    )


@dataclass(frozen=True)
class PartnerRequest:
    ctx: AppContext
    partner: auth.Partner


async def require_partner(
    request: Request, api_key: Annotated[str | None, Header(alias="X-Api-Key")] = None
) -> PartnerRequest:
    ctx = app_context(request)
    if api_key:
        key = api_key
        partner = await run_read(ctx, lambda conn: auth.partner_for_key(conn, key))
        if partner is not None:
            return PartnerRequest(ctx, partner)
    raise ProblemError(401, "unauthorized", "Partner API key required", "send `X-Api-Key: <partner key>`")


def idempotency_key(
    key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=KEY_MAX_LEN)],
) -> str:
    """Every money-moving POST carries one; a retry with the same key and body gets the same answer."""
    return key


Admin = Annotated[AppContext, Depends(require_admin)]
User = Annotated[UserRequest, Depends(require_user)]
PartnerAuth = Annotated[PartnerRequest, Depends(require_partner)]
IdempotencyKey = Annotated[str, Depends(idempotency_key)]
