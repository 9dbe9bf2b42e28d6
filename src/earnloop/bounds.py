"""Bounds on everything taken from outside (HTTP bodies, query strings, JSON files, postbacks), in one
place so that every schema and parser applies the same ones (issue 13, items 7 and 9; ADR 0020):

* integers: ids are 1..2^63-1 (a signed 64-bit column), amounts 1..``AMOUNT_MAX`` minor units, and in
  JSON both are *strict* integers — ``true``, ``"1"`` and ``1.0`` are refused, never coerced. (The
  ledger's 128-bit ids travel as decimal strings and keep their own schemas.)
* currencies: the supported ISO 4217 codes (:mod:`earnloop.currencies`), stated as an ``enum`` in
  the OpenAPI document so that a request valid by the schema is not refused for its currency.
* JSON documents: :func:`loads` refuses nesting deeper than ``JSON_DEPTH_MAX`` and integers outside the
  signed 64-bit range *before* anything recursive touches them; :func:`too_deep` is the same depth check
  for the body reader of the HTTP stack (:mod:`earnloop.api.limits`).

Request shapes derive from :class:`Strict` (unknown fields refused, every ``int`` field a strict 64-bit
integer). Domains import these; the HTTP layer adds its Path/Query forms (:mod:`earnloop.api.types`)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import annotated_types
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic import Strict as StrictType

from earnloop.currencies import CODES, UnknownCurrencyError, currency

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
ID_MAX = INT64_MAX
AMOUNT_MAX = 1 << 62  # minor units; sums of a few amounts still fit a signed 64-bit balance
JSON_DEPTH_MAX = 64

Id = Annotated[int, Field(strict=True, ge=1, le=ID_MAX, description="A positive 64-bit id.")]
Int64 = Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)]
AmountMinor = Annotated[
    int, Field(strict=True, gt=0, le=AMOUNT_MAX, description="Integer minor units (e.g. cents).")
]


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _supported(value: str) -> str:
    try:
        return currency(value).code
    except UnknownCurrencyError as exc:
        raise ValueError(str(exc)) from None


CURRENCY_VALIDATORS = (
    BeforeValidator(_upper),
    AfterValidator(_supported),
    WithJsonSchema({"type": "string", "enum": list(CODES), "description": "ISO 4217 code (supported)."}),
)
Currency = Annotated[str, CURRENCY_VALIDATORS[0], CURRENCY_VALIDATORS[1], CURRENCY_VALIDATORS[2]]


def currency_field(**kwargs: Any) -> Any:
    """``Field(...)`` for a ``str`` currency field (``currency: str = currency_field()``), validated like
    :data:`Currency`: a supported ISO 4217 code (case-insensitive in, upper case out)."""
    info = Field(**kwargs)
    info.metadata.extend(CURRENCY_VALIDATORS)
    return info


# -- JSON ------------------------------------------------------------------------------------------------

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class JSONTooDeepError(json.JSONDecodeError):
    """Nesting beyond ``JSON_DEPTH_MAX`` (a :class:`json.JSONDecodeError`, so callers that refuse invalid
    JSON refuse it too)."""


class JSONIntegerRangeError(json.JSONDecodeError):
    """An integer outside the signed 64-bit range."""


def nesting_depth(data: bytes, *, stop_above: int = JSON_DEPTH_MAX) -> int:
    """The deepest ``[``/``{`` nesting of a JSON text (strings skipped), without recursion; counting stops
    once it passes ``stop_above``. With too few brackets to pass it, answers at once (0 or 1)."""
    if data.count(b"[") + data.count(b"{") <= stop_above:
        return 0 if not (b"[" in data or b"{" in data) else 1  # too few brackets to go deeper
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_above:
                    break
        else:
            depth -= 1
    return deepest


def too_deep(data: bytes) -> bool:
    return nesting_depth(data) > JSON_DEPTH_MAX


def depth_message() -> str:
    return f"JSON nested deeper than {JSON_DEPTH_MAX} levels"


def _bounded_int(text: str) -> int:
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise JSONIntegerRangeError(f"integer {text[:24]}… outside the signed 64-bit range", text, 0)
    return value


def loads(data: str | bytes, **kwargs: Any) -> Any:
    """``json.loads`` with the platform's bounds: nesting at most ``JSON_DEPTH_MAX`` deep, integers within
    64 bits. Raises :class:`json.JSONDecodeError` (or a subclass) on anything else."""
    raw = data.encode() if isinstance(data, str) else data
    if too_deep(raw):
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        raise JSONTooDeepError(depth_message(), text, 0)
    return json.loads(data, parse_int=_bounded_int, **kwargs)


class Strict(BaseModel):
    """Base of the API's request shapes: unknown fields are refused, and every ``int`` field (ids,
    amounts, counts) is a strict JSON integer (``true``, ``"1"``, ``1.0`` refused) within the signed
    64-bit range unless the field sets a tighter upper bound — applied to every subclass when it is
    defined, so that no schema can forget it."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if _bound_int_fields(cls):
            cls.model_rebuild(force=True)


def _bound_int_fields(model: type[BaseModel]) -> bool:
    changed = False
    for info in model.model_fields.values():
        if info.annotation not in (int, int | None):
            continue
        if not any(isinstance(m, StrictType) for m in info.metadata):
            info.metadata.append(StrictType())
            changed = True
        if not any(isinstance(m, annotated_types.Le | annotated_types.Lt) for m in info.metadata):
            info.metadata.append(annotated_types.Le(INT64_MAX))
            changed = True
    return changed
