"""Failure cases from the AI product itself: `POST /feedback`.

The product reports a case (a thumbs down, a low-confidence answer, a hand-over to a human) for
an area. Its text is masked before it is stored. When an area's cases within `feedback.window`
reach `feedback.alert` (ownership.yaml), an incident is declared at `feedback.severity` with a
few of those cases as evidence; while it is open, later cases go on its timeline (one line each)
and the channel hears once per `alert` more cases, so a burst of feedback never floods it.
After the incident is resolved, counting starts again from the resolution: the cases that
declared it do not declare the next one.

The decision is taken under the locked monitor link ("feedback", "<area>"), so two replicas
receiving cases at once count each case once and declare once (bot/monitoring/links.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails
from sqlmodel import Session, col, select

from bot.incidents import messages, paging, rooms
from bot.monitoring.links import join_or_declare, joinable, lock_link
from bot.records import chain
from bot.store import inbound
from bot.store.db import session
from bot.store.models import Evidence, FailureCase, Incident, MonitorLink
from bot.store.runtime import Baton
from bot.text.masking import hidden, mask
from bot.text.mrkdwn import clip, escape, mentions_as_text
from bot.text.spans import format_duration

MAX_BODY = 1024 * 1024  # one case is a few KB; anything bigger is refused before parsing
MAX_TEXT = 4000  # characters of a case's text kept (after masking); the answer says it was clipped
MAX_REF = 512  # the failure_case.ref column
EXAMPLES = 3  # cases quoted as evidence when an incident is declared
SOURCE = "feedback"  # monitor_link source (key: the area) and the reporter of what it declares

Kind = Literal["thumbs_down", "low_confidence", "handed_to_human", "other"]
KINDS: tuple[str, ...] = get_args(Kind)
FIELDS = ("area", "kind", "text", "confidence", "ref")
EXAMPLE = (
    '{"area": "model-quality", "kind": "thumbs_down", "text": "wrong refund policy", '
    '"confidence": 0.42, "ref": "conv-8812"}'
)


class BadPayload(Exception):
    """Not a failure case Baton can take: the reason, for the 400 answer."""


class Case(BaseModel):
    """One failure case as the product sends it. Strict: a misspelt field or a number sent as a
    string is refused with the reason rather than silently dropped or guessed."""

    model_config = ConfigDict(extra="forbid", strict=True)

    area: str = Field(min_length=1)
    kind: Kind
    text: str | None = None
    confidence: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    ref: str | int | None = None


def _reason(error: ErrorDetails, baton: Baton) -> str:
    """One validation error as a sentence naming the field and what is accepted."""
    loc = [str(p) for p in error["loc"]]
    name = loc[0] if loc else "the case"
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        return f"unknown field {name!r}: a case has the fields {', '.join(FIELDS)}"
    if name == "kind":
        given = "is required" if kind == "missing" else f"{value!r} is not accepted"
        return f"kind {given}: use one of {', '.join(KINDS)}"
    if name == "area":
        given = "is required" if kind == "missing" else "must be a non-empty string"
        areas = ", ".join(baton.config.ownership.areas)
        return f"area {given}: an area key or alias from ownership.yaml ({areas})"
    if name == "confidence":
        return f"confidence {value!r} is not accepted: a number from 0 to 1, or leave it out"
    if name == "text":
        return "text must be a string (the user's words or the answer, masked by Baton), or leave it out"
    if name == "ref":
        return "ref must be a string or a number (the product's own id for the case), or leave it out"
    return f"{'.'.join(loc) or 'the case'}: {error['msg']}"


def parse(baton: Baton, body: bytes) -> tuple[Case, str]:
    """The case and its area key, or BadPayload naming what is wrong."""
    try:
        data = inbound.loads(body)
    except inbound.TooDeep as e:
        raise BadPayload(f"{e}: send one failure case as a JSON object, e.g. {EXAMPLE}") from None
    except ValueError:  # UnicodeDecodeError is one too
        raise BadPayload(
            f"the body is not JSON: send one failure case as a JSON object, e.g. {EXAMPLE}"
        ) from None
    if not isinstance(data, dict):
        raise BadPayload(f"the body is not a JSON object: send one failure case, e.g. {EXAMPLE}")
    try:
        case = Case.model_validate(data)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise BadPayload(_reason(errors[0], baton) + more) from None
    ref = str(case.ref) if case.ref is not None else None
    if ref is not None and len(ref) > MAX_REF:
        raise BadPayload(
            f"ref is {len(ref)} characters: at most {MAX_REF} (the product's own id for the case)"
        )
    own = baton.ownership
    area = own.area(case.area)
    if area is None:
        raise BadPayload(f"{own.unknown_area(case.area).plain()} (or one of their aliases)")
    return case, area


@dataclass(frozen=True)
class Outcome:
    case: int  # the stored case's id
    area: str
    incident: int | None  # the incident the area's cases declared or joined, if any
    action: str  # recorded (under the threshold) / declared / joined
    clipped: bool  # the text was longer than MAX_TEXT and was cut


def receive(*, baton: Baton, body: bytes) -> Outcome:
    """Store one failure case (masked) and act on the area's count: declare at the threshold, or
    note the case on the incident the area's cases already declared. BadPayload for bad input."""
    case, area = parse(baton, body)
    masked = mask(case.text or "")
    text = masked.text.strip()
    clipped = len(text) > MAX_TEXT
    text = clip(text, MAX_TEXT)
    # Masking may lengthen it ("a@b.co" is "[email]"): clipped to the column, which PostgreSQL enforces.
    ref = clip(mask(str(case.ref)).text, MAX_REF) if case.ref is not None else None
    now = baton.clock.now()
    settings = baton.config.ownership.feedback
    with session(baton.engine) as s:
        # The lock first: a replica receiving a case at the same moment counts after this one commits.
        link = lock_link(s, source=SOURCE, key=area, baton=baton)
        row = FailureCase(
            area=area,
            kind=case.kind,
            text=text,
            confidence=case.confidence,
            ref=ref,
            masked=hidden(text),
            received_at=now,
        )
        s.add(row)
        s.flush()
        assert row.id is not None
        current = s.get(Incident, link.incident_id) if link.incident_id is not None else None
        if current is not None and joinable(current):
            _join(s, baton, link, current, row, now)
            action, incident = "joined", current.id
        else:
            since = now - settings.window
            if current is not None and not current.drill and current.resolved_at is not None:
                since = max(since, current.resolved_at)  # counting starts again after a resolution
            cases = _cases_since(s, area, since)
            if len(cases) >= settings.alert:
                incident = _declare(s, baton, area, cases, now)
                action = "declared"
            else:
                action, incident = "recorded", None
        s.commit()
    if action != "recorded":
        baton.wake()
    baton.metrics.feedback_cases.labels(area=area, kind=case.kind).inc()
    return Outcome(row.id, area, incident, action, clipped)


def _cases_since(s: Session, area: str, since: datetime) -> list[FailureCase]:
    query = select(FailureCase).where(col(FailureCase.area) == area, col(FailureCase.received_at) > since)
    return list(s.exec(query.order_by(col(FailureCase.received_at).desc(), col(FailureCase.id).desc())).all())


def kinds_text(counts: Counter[str] | dict[str, int]) -> str:
    """ "thumbs_down 12, low_confidence 8", in the order of KINDS."""
    return ", ".join(f"{k} {counts[k]}" for k in KINDS if counts.get(k))


def example_line(case: FailureCase) -> str:
    """One case as plain text (masked already, mentions as text): kind, confidence, ref and the
    start of its text; escaped where it is posted."""
    details = [case.kind]
    if case.confidence is not None:
        details.append(f"confidence {case.confidence:.2f}")
    if case.ref:
        details.append(f"ref {clip(case.ref, 60)}")
    words = " ".join(case.text.split())
    return mentions_as_text(f"{', '.join(details)}: {clip(words, 300)}" if words else ", ".join(details))


def _declare(s: Session, baton: Baton, area: str, cases: list[FailureCase], now: datetime) -> int:
    settings = baton.config.ownership.feedback
    window = format_duration(settings.window)
    counts = Counter(c.kind for c in cases)
    name = baton.config.ownership.areas[area].name
    title = f"{len(cases)} failure cases from the product in {window} ({kinds_text(counts)})"
    joined = join_or_declare(
        s,
        baton=baton,
        source=SOURCE,
        key=area,
        level=settings.severity,
        area=area,
        title=title,
        reporter=SOURCE,
    )
    inc = joined.incident
    assert inc.id is not None
    joined.link.state = {"declared_with": len(cases), "joined": 0}
    joined.link.updated_at = now
    s.add(joined.link)
    examples = [c for c in cases if c.text][:EXAMPLES] or cases[:EXAMPLES]
    said = f"{len(cases)} failure cases for {name} within {window} (alert at {settings.alert})"
    text = "\n".join(
        [f"{said}: {kinds_text(counts)}. Examples:", *(f"- {example_line(c)}" for c in examples)]
    )
    row = Evidence(incident_id=inc.id, at=now, author=SOURCE, kind="feedback", text=text, masked=hidden(text))
    chain.append_evidence(s, row)
    s.add(row)
    paging.timeline(
        s, inc.id, at=now, actor=SOURCE, kind="feedback", text=clip(text, 1000), cases=[c.id for c in cases]
    )
    quoted = "\n".join(f"> {escape(example_line(c))}" for c in examples)
    rooms.post(
        s,
        inc,
        now=now,
        text=f":speech_balloon: {messages.mention(SOURCE)}: {escape(said)} ({kinds_text(counts)}). "
        f"Examples:\n{quoted}",
    )
    return inc.id


def _join(
    s: Session, baton: Baton, link: MonitorLink, inc: Incident, case: FailureCase, now: datetime
) -> None:
    """A case while the area's incident is open: a timeline line; the channel hears once per
    `feedback.alert` further cases (with how many so far), never once per case."""
    assert inc.id is not None
    paging.timeline(
        s, inc.id, at=now, actor=SOURCE, kind="feedback", text=clip(example_line(case), 500), case=case.id
    )
    joined = int(link.state.get("joined", 0)) + 1
    link.state = {**link.state, "joined": joined}
    link.updated_at = now
    s.add(link)
    every = baton.config.ownership.feedback.alert
    if joined % every == 0:
        total = int(link.state.get("declared_with", 0)) + joined
        rooms.post(
            s,
            inc,
            now=now,
            text=f":speech_balloon: {messages.mention(SOURCE)}: {joined} more failure case(s) since "
            f"#{inc.id} was declared ({total} in all; the latest: {escape(example_line(case))}).",
        )
