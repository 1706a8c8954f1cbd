"""The call of an approved action's webhook.

Once a request is approved, bot/actions/requests.py queues an `action_call` job (payload
``{"request": <ActionRequest.id>}``) in the same transaction. This module runs it on the ticker's
pool, never in a Slack listener, so a slow or failing webhook delays neither Slack nor pages:

- one try is one POST of ``{action, area, incident, requested_by, approved_by, params,
  idempotency_key}`` with the header ``Idempotency-Key``, the same key on every try, so a
  webhook that saw a try whose answer got lost can tell the retry is not a second run;
- the try is counted (``attempts``) and put on the timeline in its own commit before the POST:
  a process that dies mid-call leaves that visible, and its try counts towards the end;
- 2xx: called. 5xx, 429, a timeout or a broken connection: tried again with backoff, up to
  MAX_TRIES, then failed. 3xx and other 4xx: failed at once (the same request would get the same
  answer). Every end is said in the incident channel, honestly: a try that timed out after the
  request was sent may have run.

The job queue's claim gives each job to one worker across replicas, and the request's state is
re-checked with a conditional UPDATE before each try, so an approval is POSTed once (retries
aside, which carry the same key). Each try, start to finish, ends within TIMEOUT
(bot/slack/outbound.py), far inside the job's lease, so no other replica takes the job over
while a try is still open. The webhook's URL may carry a token: it is read from the current
config at each try and never logged, stored or shown; errors name the action.

Before each try the call is refused, and the request ends saying whether an earlier try may
have run, when the incident was resolved (checked with the incident's row locked, as resolving
locks it) or the action's config no longer says what was approved (bot/actions/snapshot.py:
its rule, params or url changed): what would be called is not what was approved.
"""

from __future__ import annotations

import email.utils
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.actions import ending, messages, snapshot
from bot.actions.kinds import CallPayload
from bot.incidents.paging import timeline
from bot.store import jobs
from bot.store.db import session
from bot.store.kinds import JobKind, registry
from bot.store.models import ActionRequest, Incident, Job, TimelineEvent
from bot.store.runtime import Baton
from bot.text import outside
from bot.text.mrkdwn import clip, escape
from bot.text.spans import format_duration

if TYPE_CHECKING:
    import httpx  # loaded at the first call: a Baton whose areas have no actions does without it

log = logging.getLogger(__name__)

# The end: six tries, 5 s, 10 s, 20 s, 40 s and 80 s apart (155 s of waiting), each taking at
# most TIMEOUT (10 s): an approved action is called, or reported failed, within about 3.6
# minutes of its approval. A webhook that asks for longer with Retry-After stretches
# that, up to RETRY_AFTER_MAX per try (about 50 minutes in all), which still ends well before
# the job queue's own MAX_LATE (2 h) could give up on the job behind the request's back.
MAX_TRIES = 6
FIRST_BACKOFF = timedelta(seconds=5)
RETRY_AFTER_MAX = timedelta(minutes=10)

# One try, start to finish (connect, send, the whole answer read), ends within 10 s, however
# slowly the webhook dribbles its answer (bot/slack/outbound.py): far inside the job's lease
# (bot/store/jobs.LEASE, 5 min), so a try is never taken over while it is still open. An
# action's webhook should answer once it has accepted the work (a rollback, a feature switch),
# not when the work is done: 10 s is ample for that, while a webhook that hangs holds a worker of
# the ticker's pool no longer than that per try.
TIMEOUT = 10.0

# Redirects are never followed. A 307/308 would re-send the body and the idempotency key, and a
# 301/302 would turn the POST into a GET, to an address nobody approved (possibly another host,
# possibly without TLS); the webhook's address is what ownership.yaml says. A 3xx fails the call
# at once and says to configure the final address.
FOLLOW_REDIRECTS = False

# Calls in flight at once in this process. The ticker runs jobs on a pool of 8 workers (pages
# are claimed first, but run on the same pool): eight approvals against a webhook that hangs would
# hold every worker for TIMEOUT, and a page due then would wait behind them. With at most two
# calls in flight, six workers are always left for pages and the channel; a call over the limit
# is deferred (not a try) and comes back a moment later.
MAX_IN_FLIGHT = 2
WAIT_FOR_SLOT = timedelta(seconds=1)

EXCERPT = 300  # characters of the webhook's answer kept (masked) and shown
_READ = 16 * 1024  # bytes of the answer read at most: the excerpt needs far fewer
SHOWN = 200  # characters of the excerpt in the channel

CALLED, ANSWERED, UNANSWERED, FAILED = (
    "action called",
    "action answered",
    "action unanswered",
    "action failed",
)

_slots = threading.Lock()
_in_flight = 0


def _take_slot() -> bool:
    global _in_flight
    with _slots:
        if _in_flight >= MAX_IN_FLIGHT:
            return False
        _in_flight += 1
        return True


def _free_slot() -> None:
    global _in_flight
    with _slots:
        _in_flight -= 1


# -- one try -------------------------------------------------------------------------------------


Reached = Literal["yes", "maybe", "no"]


@dataclass(frozen=True)
class Outcome:
    """What one POST came to."""

    status: int | None  # the HTTP status; None without an answer
    excerpt: str | None  # the first EXCERPT characters of the answer, masked
    problem: str | None  # what went wrong, naming neither URL nor token; None on 2xx
    retry: bool  # another try may work
    after: timedelta | None = None  # the webhook's Retry-After
    reached: Reached = "yes"  # answered; sent without an answer (it may have run); never sent

    @property
    def ok(self) -> bool:
        return self.problem is None


def body(req: ActionRequest) -> dict[str, Any]:
    """The JSON Baton POSTs (docs/actions.md: action, area, incident, requested_by, approved_by,
    params; and the idempotency key, also sent as a header)."""
    return {
        "action": req.action,
        "area": req.area,
        "incident": req.incident_id,
        "requested_by": req.requested_by,
        "approved_by": req.decided_by,
        # As typed (masked only where the config says): never the masked copy shown in Slack.
        "params": dict(req.call_params),
        "idempotency_key": req.idempotency_key,
    }


def call(url: str, payload: dict[str, Any], *, key: str) -> Outcome:
    """POST `payload` to `url` once and say what came of it. Never raises for the network or an
    HTTP status; never names the URL."""
    import httpx

    from bot.slack import outbound

    headers = {"Idempotency-Key": key, "User-Agent": "Baton"}
    try:
        with (
            outbound.client(total=TIMEOUT, follow_redirects=FOLLOW_REDIRECTS) as client,
            client.stream("POST", url, json=payload, headers=headers) as resp,
        ):
            status, after, text = resp.status_code, _retry_after(resp), _read(resp)
    except (httpx.ConnectTimeout, httpx.ConnectError):
        # Nothing was sent: safe to say it did not run.
        return Outcome(None, None, "could not connect to the webhook", retry=True, reached="no")
    except httpx.TimeoutException:
        return Outcome(
            None,
            None,
            f"no answer within {format_duration(timedelta(seconds=TIMEOUT))} (the request was sent)",
            retry=True,
            reached="maybe",
        )
    except httpx.HTTPError as e:  # the connection broke, or the answer was not HTTP
        return Outcome(
            None,
            None,
            f"the connection failed ({type(e).__name__}) after the request was sent",
            retry=True,
            reached="maybe",
        )
    excerpt = outside.excerpt(text, EXCERPT, one_line=False) if text else ""  # masked, mentioning nobody
    if 200 <= status < 300:
        return Outcome(status, excerpt, None, retry=False)
    if status == 429 or status >= 500:
        return Outcome(status, excerpt, f"HTTP {status}", retry=True, after=after)
    if 300 <= status < 400:
        # Where it points is not shown: it may be another host, or carry a token.
        return Outcome(
            status, excerpt, f"HTTP {status}, a redirect, which Baton does not follow", retry=False
        )
    return Outcome(status, excerpt, f"HTTP {status}", retry=False)


def _read(resp: httpx.Response) -> str:
    """The start of the answer: enough for the excerpt, however much the webhook sends."""
    data = b""
    for chunk in resp.iter_bytes():
        data += chunk
        if len(data) >= _READ:
            break
    return data[:_READ].decode(resp.encoding or "utf-8", errors="replace")


def _retry_after(resp: httpx.Response) -> timedelta | None:
    """Retry-After as seconds or as an HTTP date; None when absent or unreadable."""
    value = resp.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), when - datetime.now(UTC))  # an HTTP date is wall-clock time


def backoff(tries: int) -> timedelta:
    """The wait after the `tries`-th try failed: 5 s, 10 s, 20 s, 40 s, 80 s."""
    return FIRST_BACKOFF * 2 ** max(0, tries - 1)


# -- the job -------------------------------------------------------------------------------------


def run_call(baton: Baton, job: Job, payload: CallPayload) -> None:
    """Call an approved request's webhook once (the job `action_call`); retried through the job
    queue (jobs.Retry) until it is called or has failed. Anything but "approved" (called,
    failed, denied, expired, or a job queued twice) is left alone."""
    with session(baton.engine) as s:
        req = s.get(ActionRequest, payload.request)
        if req is None or req.state != "approved":
            return
    assert req.id is not None
    spec = snapshot.spec_of(baton, req)
    changed = snapshot.changed(req, spec)
    if changed is not None:
        # Removed, renamed or edited since it was approved: what was approved is not what would run.
        _stop(baton, req, why=changed)
        return
    assert spec is not None
    if req.attempts >= MAX_TRIES:
        # Its tries were used up by runs that never recorded how they ended (the process stopped
        # mid-call): the last of them may have reached the webhook.
        _finish(
            baton,
            req,
            error=f"{req.action}: gave up after {req.attempts} tries",
            said=_exhausted(baton, req, last=f"try {req.attempts} never finished"),
        )
        return
    if not _take_slot():
        raise jobs.Defer(f"{MAX_IN_FLIGHT} action calls already in flight", after=WAIT_FOR_SLOT)
    try:
        tries = _start_try(baton, req)
        if isinstance(tries, str):
            _stop(baton, req, why=tries)
            return
        if tries is None:
            return  # no longer approved: someone else ended it
        outcome = call(str(spec.url), body(req), key=req.idempotency_key)
    finally:
        _free_slot()
    _record(baton, req, tries, outcome)


def _start_try(baton: Baton, req: ActionRequest) -> int | str | None:
    """Count the try and put it on the timeline, committed before the POST: a crash mid-call
    leaves a try that is visible and counts towards the end. None if the request is no longer
    approved; why not, if its incident was resolved."""
    now = baton.clock.now()
    with session(baton.engine) as s:
        # Locked as resolve locks it: resolved before this try, or only once it was sent.
        inc = s.exec(select(Incident).where(col(Incident.id) == req.incident_id).with_for_update()).one()
        if inc.state == "resolved":
            return ending.resolved(inc, decided=True)
        tries = s.execute(
            update(ActionRequest)
            .where(col(ActionRequest.id) == req.id, col(ActionRequest.state) == "approved")
            .values(attempts=ActionRequest.attempts + 1)
            .returning(col(ActionRequest.attempts))
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if tries is None:
            s.rollback()
            return None
        timeline(
            s,
            req.incident_id,
            at=now,
            actor="baton",
            kind=CALLED,
            text=f"{_plain(req)} (request #{req.id}): try {tries} of {MAX_TRIES}",
            request=req.id,
            action=req.action,
            attempt=tries,
        )
        s.commit()
    req.attempts = tries
    return int(tries)


def _record(baton: Baton, req: ActionRequest, tries: int, outcome: Outcome) -> None:
    """Write down what the try came to; raise jobs.Retry when another try is due."""
    now = baton.clock.now()
    if outcome.ok:
        with session(baton.engine) as s:
            done = _set(
                s,
                req,
                state="called",
                call_params={},
                status=outcome.status,
                answer=outcome.excerpt,
                answered_at=now,
                error=None,
            )
            if done:
                _answered(s, req, tries, outcome, now=now, then="")
                _say(s, req, _called_text(req, tries, outcome), now=now)
            s.commit()
        baton.wake()
        return
    error = f"{req.action}: {outcome.problem}"
    wait = max(backoff(tries), outcome.after or timedelta(0))
    too_long = outcome.after is not None and outcome.after > RETRY_AFTER_MAX
    if outcome.retry and tries < MAX_TRIES and not too_long:
        with session(baton.engine) as s:
            if _set(
                s,
                req,
                status=outcome.status,
                answer=outcome.excerpt,
                answered_at=_at(outcome, now),
                error=error,
            ):
                _answered(s, req, tries, outcome, now=now, then=f"; trying again in {format_duration(wait)}")
                if tries == 1:
                    _say(s, req, _retrying_text(req, outcome, wait), now=now)
            s.commit()
        baton.wake()
        log.warning(
            "action %s (request %s) try %d of %d failed, again in %s: %s",
            req.action,
            req.id,
            tries,
            MAX_TRIES,
            format_duration(wait),
            outcome.problem,
        )
        raise jobs.Retry(error, after=wait)
    # The end: refused, redirected, asked to wait too long, or out of tries.
    quote = ""
    if too_long:
        assert outcome.after is not None
        said = (
            f"was not run: the webhook answered HTTP {outcome.status} and asked Baton to come back in "
            f"{format_duration(outcome.after)}, longer than the {format_duration(RETRY_AFTER_MAX)} it "
            "waits. Request it again later."
        )
    elif not outcome.retry and outcome.status is not None and 300 <= outcome.status < 400:
        said = (
            f"was not run: the webhook answered HTTP {outcome.status}, a redirect, which Baton does not "
            "follow (it would send the request to an address nobody approved). Put the final address "
            "in the action's `url` in ownership.yaml."
        )
    elif not outcome.retry:
        said = (
            f"was refused: the webhook answered HTTP {outcome.status}, so it did not run. A refusal is "
            "not retried: fix what it says and request it again."
        )
        quote = _quote(outcome.excerpt)
    else:
        said = _exhausted(baton, req, last=outcome.problem or "", current=(tries, outcome.reached))
    log.warning("action %s (request %s) failed for good: %s", req.action, req.id, outcome.problem)
    _finish(baton, req, error=error, said=said, quote=quote, tried=(tries, outcome))


def _exhausted(
    baton: Baton, req: ActionRequest, *, last: str, current: tuple[int, Reached] | None = None
) -> str:
    """Out of tries: whether it may have run all the same, from how each try ended (the
    timeline's, and the try just ended, not yet written)."""
    unsure, answered = _how_tries_ended(baton, req, current)
    head = f"failed: {req.attempts} tries, none succeeded (last: {escape(last)})."
    if unsure:
        return f"{head} {_may_have_run(unsure)} Check the system before requesting it again."
    if answered:
        return f"{head} The webhook answered every try with an error, so it most likely did not run."
    return f"{head} Baton never reached the webhook, so it did not run."


def _how_tries_ended(
    baton: Baton, req: ActionRequest, current: tuple[int, Reached] | None = None
) -> tuple[list[int], bool]:
    """The tries that may have reached the webhook unanswered (or never recorded an end), and
    whether any was answered."""
    with session(baton.engine) as s:
        events = s.exec(
            select(TimelineEvent).where(
                col(TimelineEvent.incident_id) == req.incident_id,
                col(TimelineEvent.kind).in_([CALLED, ANSWERED, UNANSWERED]),
            )
        ).all()
    mine = [e for e in events if e.data.get("request") == req.id]
    tried = {int(e.data["attempt"]) for e in mine if e.kind == CALLED and "attempt" in e.data}
    ended = {int(e.data["attempt"]): str(e.data.get("reached")) for e in mine if e.kind != CALLED}
    if current is not None:
        ended[current[0]] = current[1]
    unsure = sorted({n for n, how in ended.items() if how == "maybe"} | (tried - set(ended)))
    return unsure, "yes" in ended.values()


def _may_have_run(unsure: list[int]) -> str:
    which = f"try {unsure[0]}" if len(unsure) == 1 else "tries " + ", ".join(str(n) for n in unsure)
    return f"*It may have run all the same*: {which} got no answer after the request was sent."


def _stop(baton: Baton, req: ActionRequest, *, why: str) -> None:
    """Not called (any more), though approved: its incident was resolved or its action's config
    changed. Said with whether an earlier try may have run."""
    if req.attempts == 0:
        said = f"was not run: {escape(why)}. Request it again if it is still needed."
    else:
        said = f"was not tried again after try {req.attempts}: {escape(why)}."
        unsure, answered = _how_tries_ended(baton, req)
        if unsure:
            said += f" {_may_have_run(unsure)} Check the system."
        elif answered:
            said += " The webhook answered with an error, so it most likely did not run."
        else:
            said += " Baton never reached the webhook, so it did not run."
    log.warning("action %s (request %s) not called: %s", req.action, req.id, why)
    _finish(baton, req, error=f"{req.action}: not called: {why}", said=said)


def _finish(
    baton: Baton,
    req: ActionRequest,
    *,
    error: str,
    said: str,
    quote: str = "",
    tried: tuple[int, Outcome] | None = None,
) -> None:
    """Failed for good: the last try's answer, the state, the timeline and the channel, in one
    commit (a crash between them would leave an approved request to be called again)."""
    now = baton.clock.now()
    with session(baton.engine) as s:
        values: dict[str, Any] = {"state": "failed", "error": error, "call_params": {}}
        if tried is not None:
            outcome = tried[1]
            values.update(status=outcome.status, answer=outcome.excerpt, answered_at=_at(outcome, now))
        if _set(s, req, **values):
            if tried is not None:
                _answered(s, req, tried[0], tried[1], now=now, then="")
            timeline(
                s,
                req.incident_id,
                at=now,
                actor="baton",
                kind=FAILED,
                text=f"{_plain(req)} (request #{req.id}) {_unmarked(said)}",
                request=req.id,
                action=req.action,
                error=error,
            )
            _say(s, req, f":x: {_what(req)} {said}{quote}", now=now)
        s.commit()
    baton.wake()


def _set(s: Session, req: ActionRequest, **values: Any) -> bool:
    """Update the request while it is still approved; False if something else ended it."""
    result = s.execute(
        update(ActionRequest)
        .where(col(ActionRequest.id) == req.id, col(ActionRequest.state) == "approved")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _at(outcome: Outcome, now: datetime) -> datetime | None:
    return now if outcome.status is not None else None


def _answered(
    s: Session, req: ActionRequest, tries: int, outcome: Outcome, *, now: datetime, then: str
) -> None:
    """The try's end on the timeline: the status and excerpt, or why there was no answer."""
    if outcome.status is not None:
        kind = ANSWERED
        said = f"HTTP {outcome.status}" + (f": {outcome.excerpt}" if outcome.excerpt else " (empty answer)")
    else:
        kind, said = UNANSWERED, outcome.problem or "no answer"
    timeline(
        s,
        req.incident_id,
        at=now,
        actor="baton",
        kind=kind,
        text=f"{req.action} (request #{req.id}) try {tries}: {said}{then}",
        request=req.id,
        action=req.action,
        attempt=tries,
        status=outcome.status,
        reached=outcome.reached,
    )


def _say(s: Session, req: ActionRequest, text: str, *, now: datetime) -> None:
    """In the incident channel; a backlog item has none, so its requester hears it by DM."""
    inc = s.get(Incident, req.incident_id)
    if inc is not None:
        ending.say(s, inc, req, text=text, now=now)


# -- texts ---------------------------------------------------------------------------------------


def _plain(req: ActionRequest) -> str:
    return messages.plain_what(req.action, req.params)


def _what(req: ActionRequest) -> str:
    """`` Action `rollback-prompt` (version=v41) for #12 `` as mrkdwn, parameters escaped."""
    return f"Action {messages.what(req)} for #{req.incident_id}"


def _quote(excerpt: str | None) -> str:
    """The webhook's answer as a quoted line: whitespace folded, clipped, escaped."""
    if not excerpt:
        return ""
    return "\n> " + escape(clip(" ".join(excerpt.split()), SHOWN))


def _called_text(req: ActionRequest, tries: int, outcome: Outcome) -> str:
    on = f" on try {tries}" if tries > 1 else ""
    return f":white_check_mark: {_what(req)} ran: the webhook answered HTTP {outcome.status}{on}." + _quote(
        outcome.excerpt
    )


def _retrying_text(req: ActionRequest, outcome: Outcome, wait: timedelta) -> str:
    maybe = (
        " It may have reached the webhook; the retry carries the same idempotency key."
        if outcome.reached == "maybe"
        else ""
    )
    return (
        f":hourglass_flowing_sand: {_what(req)}: {escape(outcome.problem or '')}. Baton tries again in "
        f"{format_duration(wait)} (up to {MAX_TRIES} tries).{maybe}" + _quote(outcome.excerpt)
    )


def _unmarked(said: str) -> str:
    """A channel sentence for the timeline: without mrkdwn emphasis."""
    return said.replace("*", "").replace("`", "")


CALL = JobKind(CallPayload, run_call)
HANDLERS = registry(CALL)
