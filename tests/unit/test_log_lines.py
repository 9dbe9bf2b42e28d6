"""Log lines: JSON objects when nobody is watching (a file, a pipe, a log shipper), readable lines when a
person is at the terminal — the same events, the same bound request id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from earnloop.observability import configure_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def _log_an_event(stream: io.StringIO, **options: bool) -> str:
    configure_logging("INFO", stream, **options)
    structlog.contextvars.bind_contextvars(request_id="req-42")
    try:
        structlog.get_logger("earnloop.test").info("wallet opened", currency="TWD")
        logging.getLogger("uvicorn.error").info("Started server process")
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    return stream.getvalue()


def test_logs_not_at_a_terminal_are_one_json_object_per_line() -> None:
    output = _log_an_event(io.StringIO())  # a StringIO is not a terminal: the default is JSON
    first, second = (json.loads(line) for line in output.splitlines())
    assert first["event"] == "wallet opened"
    assert (first["currency"], first["request_id"], first["level"]) == ("TWD", "req-42", "info")
    assert second["event"] == "Started server process"
    assert second["logger"] == "uvicorn.error"


def test_logs_at_a_terminal_are_readable_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    output = _log_an_event(io.StringIO(), console=True)
    first, second = output.splitlines()
    assert not first.startswith("{")
    assert "wallet opened" in first
    assert "currency=TWD" in first
    assert "request_id=req-42" in first
    assert "\x1b[" not in output  # NO_COLOR: no escape codes
    assert "Started server process" in second


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_stream_gets_readable_lines_by_default() -> None:
    output = _log_an_event(_Terminal())
    assert "wallet opened" in output
    with pytest.raises(json.JSONDecodeError):
        json.loads(output.splitlines()[0])
