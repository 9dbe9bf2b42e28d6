"""Path and query parameter types of the HTTP API, with the bounds of :mod:`earnloop.bounds`: every
integer id in a path or query string is 1..2^63-1 (a larger one is a 422 naming the parameter, never a
database overflow), and a currency in a path is a supported ISO 4217 code (an ``enum`` in the OpenAPI
document). Routers import these instead of declaring their own."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from earnloop.bounds import CURRENCY_VALIDATORS, ID_MAX, INT64_MAX

Id = Annotated[int, Path(ge=1, le=ID_MAX)]
"""An id in the path."""
QueryId = Annotated[int | None, Query(ge=1, le=ID_MAX)]
"""An optional id filter in the query string."""
Cursor = Annotated[int, Query(ge=0, le=INT64_MAX, description="Page: the last cursor seen (0: newest).")]
CurrencyPath = Annotated[str, CURRENCY_VALIDATORS[0], CURRENCY_VALIDATORS[1], CURRENCY_VALIDATORS[2], Path()]
