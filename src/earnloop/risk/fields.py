"""PLACEHOLDER: the fields risk rules may use. The engine (branch h/engine) ships the real catalogue in
this module; until it lands, stored strategies are validated against this small fixed one."""

from __future__ import annotations


def catalogue() -> dict[str, type]:
    """Placeholder catalogue of rule fields (name → bool, int, float or str); replaced by the engine's."""
    return {
        "kind": str,
        "amount": int,
        "currency": str,
        "click_to_event_s": int,
        "user_account_age_s": int,
    }
