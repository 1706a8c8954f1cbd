"""A database that refuses some statements for a while: the fault of an outside service (like
bot/slack/standin's injected errors), hooked into the engine Baton uses, not into Baton."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError


@dataclass
class Fault:
    left: int  # statements still to refuse
    refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        with self._lock:
            if self.left <= 0:
                return False
            self.left -= 1
            self.refused += 1
            return True


@contextmanager
def refusing(engine: Engine, when: Callable[[str, Any], bool], *, times: int = 1) -> Iterator[Fault]:
    """Make the next `times` statements `when(sql, parameters)` accepts fail, as a database that
    dropped the connection would (OperationalError)."""
    fault = Fault(times)

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if when(statement, parameters) and fault.take():
            raise OperationalError(statement, parameters, Exception("injected: the database went away"))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield fault
    finally:
        event.remove(engine, "before_cursor_execute", before)


def on_job_thread() -> bool:
    """Whether the statement runs on one of the ticker's workers."""
    return threading.current_thread().name.startswith("baton-job")
