"""The OpenAPI document is a contract with partners and users: it changes only on purpose.

``docs/openapi.json`` is the stored copy. A change to the API shows up here as a failing test; when the
change is meant, regenerate the copy with ``EARNLOOP_UPDATE_OPENAPI=1 make test`` (or this file alone)
and review its diff with the code.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from earnloop.api.app import create_app
from earnloop.config import Settings
from tests.conftest import ADMIN_TOKEN

STORED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def _document() -> dict[str, Any]:
    unopened = Path(tempfile.gettempdir()) / "earnloop-openapi-snapshot-unopened.db"
    settings = Settings(database_url=f"sqlite:///{unopened}", admin_token=ADMIN_TOKEN)
    return create_app(settings, check_schema=False).openapi()


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_the_openapi_document_matches_the_stored_copy() -> None:
    current = _text(_document())
    if os.environ.get("EARNLOOP_UPDATE_OPENAPI") == "1":
        STORED.write_text(current, encoding="utf-8")
    stored = STORED.read_text(encoding="utf-8")
    assert current == stored, (
        "the OpenAPI document differs from docs/openapi.json; if the change is meant, regenerate it with "
        "EARNLOOP_UPDATE_OPENAPI=1 and review the diff"
    )
