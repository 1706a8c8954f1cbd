"""bot/store/kinds.py: each job kind's payload, typed, registered once with what runs it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.actions import HANDLERS as ACTIONS
from bot.incidents import paging, rooms
from bot.incidents.paging import PagePayload
from bot.monitoring import alertmanager
from bot.store import jobs
from bot.store.kinds import JobKind, registry
from bot.store.models import Job
from bot.store.outbox import PostPayload

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_every_kind_the_runner_registers_has_a_payload_model_named_for_it() -> None:
    kinds = {**paging.HANDLERS, **rooms.HANDLERS, **alertmanager.HANDLERS, **ACTIONS}
    assert set(kinds) == {
        "page", "notice", "breach", "pager", "setup", "post", "topic", "invite",
        "announce", "announce_thread", "fyi", "alert_evidence", "action_call", "action_expire",
    }  # fmt: skip
    assert all(kind.name == name and name == kind.payload.KIND for name, kind in kinds.items())


def test_a_payload_is_stored_as_the_json_it_always_was_and_read_back_typed() -> None:
    page = PagePayload(user="U07MAYA001", ref="maya", reason="on-call")
    row = page.row(due_at=NOW, now=NOW, incident_id=1)
    assert row["kind"] == "page" and row["payload"] == {
        "user": "U07MAYA001",
        "ref": "maya",
        "reason": "on-call",
    }
    assert PostPayload(text="hi").stored() == {"text": "hi"}  # defaults are not written
    job = Job(**jobs.row(kind="post", due_at=NOW, now=NOW, payload={"text": "hi", "old_key": 1}))
    post = rooms.POST.of(job)  # a row an older Baton wrote, with a key no longer read
    assert post.text == "hi" and post.to is None and post.about == "a message"


def test_a_payload_that_does_not_fit_is_given_up_naming_the_field() -> None:
    job = Job(**jobs.row(kind="pager", due_at=NOW, now=NOW, payload={"action": "trigger"}))
    with pytest.raises(jobs.Fail, match="a pager job's payload does not fit \\(pager: Field required\\)"):
        paging.PAGER(object(), job)  # type: ignore[arg-type]  # fails before the baton is used


def test_a_kind_registered_twice_is_refused() -> None:
    def run(baton: Any, job: Job, payload: PostPayload) -> None: ...

    with pytest.raises(ValueError, match="'post' is registered twice"):
        registry(JobKind(PostPayload, run), JobKind(PostPayload, run))
