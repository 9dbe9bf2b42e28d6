"""Group commit for SQLite: write requests that arrive together share one transaction.

SQLite runs one writer at a time. When concurrent requests (partners' postbacks) each open a
transaction on a thread of the pool, they queue on the writers' lock and hand the GIL back and forth
between threads, and every one of them pays for its own BEGIN and COMMIT. A :class:`GroupCommitter`
takes the work that has queued up (at most ``max_group`` pieces), runs each piece in its own
SAVEPOINT inside one transaction (a piece alone runs without one), commits once, and only then
answers each caller — with its result, or with its own exception (its savepoint rolled back, the
others unaffected). A commit that fails fails every caller of that group: nothing of it was stored.
Work cancelled before it started never runs.

Two ways in:

- :meth:`GroupCommitter.run`, from an event loop (the API's postbacks): the pieces that reach it in
  one turn of the loop run right there, on the loop's thread, when the write lock is free at once —
  no thread hand-over, and no GIL handed back and forth between the loop and a writer thread at every
  SQLite call (ADR 0014). When the lock is taken (a writer thread of this process, or another process
  such as ``earnloop worker``), the loop does not wait: the group goes to the writer thread instead.
  Nor does the loop wait for a checkpoint of the write-ahead log: its commits skip them, and every
  ``checkpoint_every`` groups a short-lived thread runs one.
- :meth:`GroupCommitter.submit`, from any thread: one writer thread runs the groups and waits for the
  lock as long as SQLite's busy timeout allows. It exits after ``idle_s`` without work, and the next
  submission starts another.

The pieces of a group run one after another on one connection, so each sees what the ones before it
wrote, exactly as if they had committed in that order. Measured with ``earnloop bench postback``
(SQLite, 8 clients): ADR 0010 (the writer thread) and ADR 0014 (the loop's own groups).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Connection

from earnloop.db import driver
from earnloop.db.engine import Database, WriterBusyError

T = TypeVar("T")
_Work = Callable[[Connection], Any]
_Job = tuple[_Work, "Future[Any]"]
_LoopJob = tuple[_Work, "asyncio.Future[Any]"]
_Outcome = tuple[Any, BaseException | None]
_TO_THE_WRITER_THREAD = object()  # a loop group found the write lock taken

MAX_GROUP = 16
WRITER_THREAD = "earnloop-group-commit"
CHECKPOINT_THREAD = "earnloop-checkpoint"
CHECKPOINT_EVERY = 32  # loop groups (a few hundred to a thousand pages of log) between checkpoints
IDLE_S = 1.0
log = logging.getLogger(__name__)


class GroupCommitter:
    """Commits write work in groups: on the calling event loop (:meth:`run`) or on its one writer
    thread (:meth:`submit`); see the module docstring."""

    def __init__(
        self,
        db: Database,
        *,
        max_group: int = MAX_GROUP,
        idle_s: float = IDLE_S,
        checkpoint_every: int = CHECKPOINT_EVERY,
    ) -> None:
        self._db = db
        self._max_group = max_group
        self._idle_s = idle_s
        self._checkpoint_every = checkpoint_every
        self._queue: deque[_Job] = deque()
        self._changed = threading.Condition()
        self._running = False
        self._on_loops: dict[asyncio.AbstractEventLoop, list[_LoopJob]] = {}
        self._loop_groups_since_checkpoint = 0
        self._checkpointing = threading.Event()

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` (called with the group's connection, inside its own savepoint) in a group of
        the pieces that reach this event loop in the same turn, on the loop's own thread; its result
        once the group has committed. ``work`` blocks the loop while it runs: SQL only, no network.
        When the write lock is not free at once, the group is handed to :meth:`submit` instead."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        waiting = self._on_loops.setdefault(loop, [])
        waiting.append((work, future))
        if len(waiting) == 1:
            loop.call_soon(self._commit_on_loop, loop)
        outcome = await future
        if outcome is _TO_THE_WRITER_THREAD:
            return await asyncio.wrap_future(self.submit(work))
        result: T = outcome
        return result

    def submit(self, work: Callable[[Connection], T]) -> Future[T]:
        """Queue ``work`` (called with the group's connection, inside its own savepoint); the future
        resolves once the group it ran in has committed."""
        future: Future[T] = Future()
        with self._changed:
            self._queue.append((work, future))
            if not self._running:
                self._start_writer()
            self._changed.notify()
        return future

    def _run(self) -> None:
        try:
            while group := self._next_group():
                self._commit(group)
        finally:
            with self._changed:
                self._running = False
                if self._queue:  # work that arrived as the thread was leaving (or after a crash)
                    self._start_writer()

    def _start_writer(self) -> None:
        """Start the writer thread (called holding ``_changed``)."""
        self._running = True
        threading.Thread(target=self._run, name=WRITER_THREAD, daemon=True).start()

    def _next_group(self) -> list[_Job]:
        """The work queued so far (waiting up to ``idle_s`` for some); empty when the thread should exit."""
        with self._changed:
            deadline = time.monotonic() + self._idle_s
            while not self._queue:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._changed.wait(remaining)
            count = min(len(self._queue), self._max_group)
            return [self._queue.popleft() for _ in range(count)]

    def _commit_on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting = self._on_loops.pop(loop, [])
        group, rest = waiting[: self._max_group], waiting[self._max_group :]
        if rest:
            self._on_loops[loop] = rest
            loop.call_soon(self._commit_on_loop, loop)
        started = [(work, future) for work, future in group if not future.cancelled()]
        if not started:
            return
        try:
            _run_and_answer(self._db, started, wait=False)
        except WriterBusyError:  # nothing ran: the writer thread waits for the lock instead
            for _, future in started:
                future.set_result(_TO_THE_WRITER_THREAD)
            return
        self._loop_groups_since_checkpoint += 1
        if self._loop_groups_since_checkpoint >= self._checkpoint_every and not self._checkpointing.is_set():
            self._loop_groups_since_checkpoint = 0
            self._checkpointing.set()
            threading.Thread(target=self._checkpoint, name=CHECKPOINT_THREAD, daemon=True).start()

    def _checkpoint(self) -> None:
        """The checkpoint that the loop's commits skip, off the loop (its fsyncs release the GIL)."""
        try:
            self._db.checkpoint()
        except Exception:  # the next one copies what this one could not; nothing is lost meanwhile
            log.warning("SQLite checkpoint failed", exc_info=True)
        finally:
            self._checkpointing.clear()

    def _commit(self, group: list[_Job]) -> None:
        started = [(work, future) for work, future in group if future.set_running_or_notify_cancel()]
        _run_and_answer(self._db, started, wait=True)


def _run_and_answer(db: Database, started: Sequence[_Job | _LoopJob], *, wait: bool) -> None:
    """Run the group (:func:`_run_group`) and answer each future with its own outcome; when BEGIN,
    COMMIT or a piece alone failed, every future with that exception (nothing was stored)."""
    try:
        outcomes = _run_group(db, [work for work, _ in started], wait=wait)
    except WriterBusyError:
        raise
    except BaseException as exc:
        for _, future in started:
            future.set_exception(exc)
        if not isinstance(exc, Exception):
            raise
        return
    for (_, future), (value, error) in zip(started, outcomes, strict=True):
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)


def _run_group(db: Database, works: Sequence[_Work], *, wait: bool) -> list[_Outcome]:
    """Run ``works`` in one transaction, each in its own savepoint (one alone: its transaction is its
    savepoint), and commit; each one's (result, exception). Raises what BEGIN or COMMIT raised, or
    what a piece alone raised (nothing was stored); :class:`WriterBusyError` when not waiting and the
    write lock is taken."""
    with db.uow(wait=wait) as conn:
        if len(works) == 1:
            return [(works[0](conn), None)]
        return [_in_savepoint(conn, work) for work in works]


def _in_savepoint(conn: Connection, work: Callable[[Connection], T]) -> tuple[T | None, Exception | None]:
    try:
        with driver.savepoint(conn):
            return work(conn), None
    except Exception as exc:
        return None, exc
