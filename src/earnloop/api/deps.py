"""Request authentication: admin bearer token, user tokens, partner API keys, operators' tokens (with
their roles); and idempotency keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from earnloop.api.context import AppContext, app_context, run_read
from earnloop.api.problems import ProblemError
from earnloop.auth import operators
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


@dataclass(frozen=True)
class OperatorRequest:
    """An authenticated operator (``operator``), or the admin token (``operator`` is ``None``)."""

    ctx: AppContext
    operator: operators.Operator | None


async def _operator(ctx: AppContext, credentials: HTTPAuthorizationCredentials | None) -> OperatorRequest:
    if credentials is not None:
        token = credentials.credentials
        if token_matches(ctx.admin_token, token):
            return OperatorRequest(ctx, None)
        found = await run_read(ctx, lambda conn: operators.operator_for_token(conn, token))
        if found is not None:
            return OperatorRequest(ctx, found)
    raise ProblemError(
        401, "unauthorized", "Operator token required", "send `Authorization: Bearer <operator token>`"
    )


async def require_risk_reader(request: Request, credentials: Credentials) -> OperatorRequest:
    """The admin token or an operator with the ``risk`` role: may read strategies and dry-run them."""
    found = await _operator(app_context(request), credentials)
    if found.operator is not None and not found.operator.has_role(operators.ROLE_RISK):
        raise ProblemError(403, "forbidden", "Forbidden", "this needs an operator with the risk role")
    return found


@dataclass(frozen=True)
class RiskOperatorRequest:
    ctx: AppContext
    operator: operators.Operator


async def require_risk_operator(request: Request, credentials: Credentials) -> RiskOperatorRequest:
    """An operator with the ``risk`` role, by name: strategy changes record who made them, so the admin
    token, which names nobody, may not make them (ADR 0025)."""
    found = await require_risk_reader(request, credentials)
    if found.operator is None:
        raise ProblemError(
            403,
            "forbidden",
            "Forbidden",
            "strategy changes are made by a named operator with the risk role, not with the admin token",
        )
    return RiskOperatorRequest(found.ctx, found.operator)


def idempotency_key(
    key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=KEY_MAX_LEN)],
) -> str:
    """Every money-moving POST carries one; a retry with the same key and body gets the same answer."""
    return key


Admin = Annotated[AppContext, Depends(require_admin)]
User = Annotated[UserRequest, Depends(require_user)]
PartnerAuth = Annotated[PartnerRequest, Depends(require_partner)]
IdempotencyKey = Annotated[str, Depends(idempotency_key)]
RiskReader = Annotated[OperatorRequest, Depends(require_risk_reader)]
RiskOperator = Annotated[RiskOperatorRequest, Depends(require_risk_operator)]
