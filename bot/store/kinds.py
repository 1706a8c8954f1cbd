"""Job kinds, typed: each kind's payload is a model, registered once with the function that runs
it, and queued as that model, so what a job carries is written down next to its handler.

The payload is stored as the same JSON as before (fields left at their default are not written),
and read back through the model when the job runs; a row an older Baton queued without a field
gets the field's default. One that does not fit the model is given up (`jobs.Fail`, naming the
field), not retried: it never would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlmodel import Session

from bot.store import jobs
from bot.store.models import Job
from bot.store.runtime import Baton


class Payload(BaseModel):
    """What a job of one kind carries. Subclasses name their kind in KIND."""

    KIND: ClassVar[str]
    model_config = ConfigDict(frozen=True, extra="ignore")

    def stored(self) -> dict[str, Any]:
        """The JSON kept in the job's row."""
        return self.model_dump(mode="json", exclude_defaults=True)

    @classmethod
    def peek(cls, job: Job) -> Self | None:
        """A job's payload read as this kind's, or None when the job is of another kind or its
        payload does not fit (for code that reports or looks past a job, never runs it)."""
        if job.kind != cls.KIND:
            return None
        try:
            return cls.model_validate(job.payload)
        except ValidationError:
            return None

    def row(self, *, due_at: datetime, now: datetime, **fields: Any) -> dict[str, Any]:
        """This job's row, for `jobs.enqueue_rows` (a ladder queues many in one INSERT)."""
        return jobs.row(kind=self.KIND, due_at=due_at, now=now, payload=self.stored(), **fields)

    def enqueue(self, s: Session, *, due_at: datetime, now: datetime, **fields: Any) -> Job:
        """Queue this job in the caller's transaction, written with the caller's other rows when
        it flushes or commits (a caller may catch an IntegrityError of those at its commit)."""
        return jobs.enqueue(s, kind=self.KIND, due_at=due_at, now=now, payload=self.stored(), **fields)


P = TypeVar("P", bound=Payload)


@dataclass(frozen=True)
class JobKind(Generic[P]):
    """A kind of job: its payload model and what runs it. Called as the ticker calls a handler."""

    payload: type[P]
    run: Callable[[Baton, Job, P], None]

    @property
    def name(self) -> str:
        return self.payload.KIND

    def of(self, job: Job) -> P:
        """The job's payload, typed; jobs.Fail when it does not fit."""
        try:
            return self.payload.model_validate(job.payload)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise jobs.Fail(f"a {self.name} job's payload does not fit ({where}: {first['msg']})") from None

    def __call__(self, baton: Baton, job: Job) -> None:
        self.run(baton, job, self.of(job))


def registry(*kinds: JobKind[Any]) -> Mapping[str, JobKind[Any]]:
    """The kinds by name, for the ticker (bot/app/runner.py) and the tests alike."""
    found: dict[str, JobKind[Any]] = {}
    for kind in kinds:
        if kind.name in found:
            raise ValueError(f"job kind {kind.name!r} is registered twice")
        found[kind.name] = kind
    return found
