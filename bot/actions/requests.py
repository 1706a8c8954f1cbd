"""Action requests: `/incident run <action> [k=v …]` and its approval (docs/actions.md:
actions, and who must approve them); how a request ends unapproved is ending.py's.

A request is one row (bot/store/models.ActionRequest) written in one transaction with
everything it sets off: the timeline event, a DM with Approve / Deny to each approver, the post
in the incident channel and the job that expires it. It keeps what it was asked under
(bot/actions/snapshot.py), and the params twice: masked, as shown, and as the webhook gets them.
Nothing runs without the rule's approval:
only a request in state "approved" gets an "action_call" job (bot/actions/webhook.py POSTs it),
written in the same transaction that approves it. Decisions and expiry are conditional UPDATEs
on `state`, so the first decision counts, a second click changes nothing, and two replicas (or
two approvers clicking at once) never approve one request twice.

Approvers, by the action's `approval` rule, never including the requester:
- none: nobody; the request is approved at once (decided by "baton");
- accountable: the area's accountable person, or, when they are the one asking, the admins;
- two-person: everyone allowed to approve: the area's R (the person, or the team's members), its
  A, the incident's commander and the admins.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.access.rule import Group, NotAllowed, check, mentions
from bot.actions import ending, messages, snapshot
from bot.actions.kinds import CallPayload, ExpirePayload
from bot.config.models import ActionSpec
from bot.incidents import rules
from bot.incidents.errors import IncidentError
from bot.incidents.paging import timeline
from bot.incidents.rules import Action
from bot.store import outbox
from bot.store.db import session
from bot.store.models import ActionRequest, Incident
from bot.store.runtime import Baton
from bot.text.masking import mask
from bot.text.mrkdwn import clip, either, escape
from bot.text.typed import Unknown, quote

EXAMPLE = "/incident run rollback-prompt version=v41"
# A backlog item has no response window; its requests are decided within this instead.
BACKLOG_WINDOW = timedelta(hours=1)


#: Who may approve or deny a request: those its rule asked when it was made (never the requester,
#: and only while the rule still allows them).
WHO_DECIDES = ("approvers",)


class ActionError(IncidentError):
    """Bad input or a request that cannot be made or decided; the message says what would work.
    Nothing was changed."""


# -- asking ------------------------------------------------------------------------------------


def request(*, baton: Baton, number: int, action: str, args: list[str], user: str) -> ActionRequest:
    """Ask to run `action` of the incident's area with `args` (`k=v` each).

    ActionError for an unknown action or parameter (with the lists of what exists), a missing
    parameter (every listed parameter is required), a resolved incident, or an approval nobody
    but the requester could give; NotAllowed unless `user` may acknowledge the incident. On
    success the approvers are asked (or, for approval "none", the call is queued at once).
    """
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = s.exec(select(Incident).where(col(Incident.id) == number)).first()
        if inc is None:
            raise ActionError(f"There is no incident #{number}. `/incident list` shows the open ones.")
        if inc.state == "resolved":
            raise ActionError(
                f"Incident #{number} is resolved; `/incident reopen` it before running actions."
            )
        assert inc.id is not None
        rules.check(baton, s, inc, Action.RUN, user=user, now=now)
        name, spec = _spec(baton, inc.area, action)
        params, call_params = _params(name, spec, args)
        approvers, why = _approvers(baton, inc, name, spec, user=user)
        window = inc.policy.window_seconds
        # The window of the incident's current level; a backlog item has none (BACKLOG_WINDOW).
        expires_at = now + (timedelta(seconds=window) if window else BACKLOG_WINDOW)
        approved = spec.approval == "none"
        key = uuid.uuid4().hex
        req = ActionRequest(
            incident_id=inc.id,
            area=inc.area,
            action=name,
            title=spec.title,
            params=params,
            call_params=call_params,
            **snapshot.taken(spec, key=key),
            approvers=approvers,
            requested_by=user,
            requested_at=now,
            expires_at=expires_at,
            state="approved" if approved else "pending",
            decided_by="baton" if approved else None,
            decided_at=now if approved else None,
            idempotency_key=key,
        )
        s.add(req)
        s.flush()
        assert req.id is not None
        shown = messages.plain_what(name, params)
        asked = ", ".join(f"<@{u}>" for u in approvers)
        timeline(
            s,
            inc.id,
            at=now,
            actor=user,
            kind="action requested",
            text=f"asked to run {shown} (approval: {spec.approval})"
            + (f"; asked {asked} until {expires_at:%Y-%m-%d %H:%M:%S} UTC" if approvers else ""),
            request=req.id,
            action=name,
            params=params,
            approval=spec.approval,
            approvers=approvers,
        )
        if approved:
            timeline(
                s,
                inc.id,
                at=now,
                actor="baton",
                kind="action approved",
                text=f"approved {shown} (request #{req.id}): its rule needs no approval",
                request=req.id,
                action=name,
            )
            _call(s, req, now=now)
        else:
            for approver in approvers:
                text, blocks = messages.approval_dm(req, inc, why=why)
                # Should Slack refuse the DM for good, the requester hears it did not arrive.
                about = f"the request to approve `{name}` for #{inc.id}"
                outbox.send(s, approver, text=text, blocks=blocks, now=now, tell=user, about=about)
            assert req.id is not None
            ExpirePayload(request=req.id).enqueue(s, incident_id=inc.id, due_at=expires_at, now=now)
        ending.say(s, inc, req, text=messages.requested_post(req), now=now)
        s.commit()
    baton.wake()
    return req


def _spec(baton: Baton, area: str, action: str) -> tuple[str, ActionSpec]:
    cfg = baton.config.ownership.areas.get(area)
    if cfg is None:
        raise ActionError(f"Area `{escape(area)}` is no longer in ownership.yaml, so it has no actions.")
    actions = cfg.actions
    if not actions:
        raise ActionError(
            f"{escape(cfg.name)} (`{area}`) has no actions. They are configured in ownership.yaml "
            f"under `areas.{area}.actions`."
        )
    listed = ", ".join(f"`{escape(n)}` ({escape(clip(a.title, 80))})" for n, a in actions.items())
    if not action:
        raise ActionError(f"Name the action to run, e.g. `{EXAMPLE}`. Actions of `{area}`: {listed}.")
    key = action.strip().lower()
    if key not in actions:
        where = f" in `{area}`"
        raise Unknown("action", action, list(actions), plural="its actions", listed=listed, where=where)
    return key, actions[key]


def _params(action: str, spec: ActionSpec, args: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`k=v` words to ({name: masked value}, {name: value for the webhook}); every listed
    parameter is required, nothing else is accepted.

    What is kept and shown is masked; the webhook gets what was typed, masked only for the
    params the config marks `mask: true`. Slack's `&amp;`, `&lt;`, `&gt;` are read back by the
    command handler (bot/text/mrkdwn.unescape) before the words get here."""
    names = spec.names
    listed = ", ".join(f"`{p}`" for p in names)
    usage = f"`/incident run {action}" + "".join(f" {p}=…" for p in names) + "`"
    takes = f"its parameters are {listed}" if names else "it takes no parameters"
    typed: dict[str, str] = {}
    for word in args:
        key, eq, value = word.partition("=")
        key = key.strip().lower()
        if not eq or not key:
            raise ActionError(
                f"`{quote(word)}` is not a parameter: write `name=value`, e.g. {usage}; {takes}."
            )
        if key not in names:
            raise ActionError(f"`{quote(key)}` is not a parameter of `{action}`: {takes}, e.g. {usage}.")
        if key in typed:
            raise ActionError(f"`{key}` is given twice; give it once, e.g. {usage}.")
        if not value.strip():
            raise ActionError(f"Give `{key}` a value, e.g. {usage}.")
        typed[key] = value.strip()
    missing = [p for p in names if p not in typed]
    if missing:
        which = either([f"`{p}`" for p in missing])
        raise ActionError(f"`{action}` needs {which}: every parameter it lists is required, e.g. {usage}.")
    shown = {p: mask(typed[p]).text for p in names}  # in the order the config lists them
    sent = {p: shown[p] if p in spec.masked else typed[p] for p in names}
    return shown, sent


def _people(baton: Baton, refs: list[str]) -> list[str]:
    return [uid for ref in refs if (uid := baton.ownership.user_id(ref))]


def _unique(users: list[str], *, but: str) -> list[str]:
    out: list[str] = []
    for u in users:
        if u != but and u not in out:
            out.append(u)
    return out


def _approvers(
    baton: Baton, inc: Incident, action: str, spec: ActionSpec, *, user: str
) -> tuple[list[str], str]:
    """Who is asked (Slack user IDs, never the requester) and why, as the DM says it."""
    if spec.approval == "none":
        return [], ""
    own = baton.ownership
    admins = _people(baton, list(baton.config.ownership.admins))
    raci = own.raci(inc.area)
    accountable = own.user_id(raci.accountable)
    if spec.approval == "accountable":
        if accountable is not None and accountable != user:
            return [accountable], f"You are asked as the accountable person for `{inc.area}`."
        instead = _unique(admins, but=user)
        a = f"<@{accountable}>" if accountable else escape(raci.accountable)
        because = "is the one asking" if accountable == user else "has no Slack account Baton knows"
        if not instead:
            raise ActionError(
                f"Nobody else can approve `{action}`: it needs the accountable person for `{inc.area}` "
                f"({a}), who {because}, or then an admin other than the requester, and there is none "
                "(`admins:` in ownership.yaml). Ask someone else allowed to run actions to request it."
            )
        return instead, f"You are asked as an admin: the accountable person for `{inc.area}` ({a}) {because}."
    if spec.approval == "two-person":
        allowed = [
            *_people(baton, list(raci.responsible)),
            *([accountable] if accountable else []),
            *([inc.commander] if inc.commander else []),
            *admins,
        ]
        others = _unique(allowed, but=user)
        if not others:
            raise ActionError(
                f"Nobody besides you can approve `{action}`: it needs a second person among the area's "
                f"owners, the commander of #{inc.id} or an admin, and you are the only one."
            )
        return others, "Two people must agree: the one who asked and one of those allowed to approve."
    raise ActionError(
        f"`{action}` has approval `{escape(spec.approval)}`, which Baton does not know."
    )  # pragma: no cover


def _call(s: Session, req: ActionRequest, *, now: datetime) -> None:
    """The contract with bot/actions/webhook.py: approved, so the call is queued, in the same
    transaction that set the state."""
    assert req.id is not None
    CallPayload(request=req.id).enqueue(s, incident_id=req.incident_id, due_at=now, now=now)


# -- deciding ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    request: ActionRequest  # as it stands after this click
    already: bool  # decided before (or expired): nothing changed; messages.already says how


def decide(*, baton: Baton, request_id: int, approve: bool, user: str) -> Decision:
    """Approve or deny a pending request. Only the approvers asked may, never the requester,
    and only while they are still allowed to (NotAllowed naming who may; nothing changes). The
    first decision counts: a later one, or one after the request expired, changes nothing
    (`already`). A request whose incident was resolved, or whose action's config changed since
    it was asked, is not decided but ends (bot/actions/ending.py; `already`, saying why).
    Approving queues the call."""
    now = baton.clock.now()
    with session(baton.engine) as s:
        req = s.get(ActionRequest, request_id)
        if req is None:
            raise ActionError(f"There is no action request #{request_id}.")
        # Locked, so a resolve in flight either came first (and ended the request) or waits.
        inc = s.exec(select(Incident).where(col(Incident.id) == req.incident_id).with_for_update()).one()
        req = _reread(s, request_id)
        if req.state != "pending" or req.expires_at <= now:
            return Decision(req, already=True)
        who = messages.anyone_of(req.approvers)
        if user == req.requested_by:
            raise NotAllowed(
                f"You asked to run `{escape(req.action)}` (request #{req.id}): someone else must decide, "
                f"{who}. Nothing changed."
            )
        groups = {
            "approvers": Group("the approvers asked", frozenset(req.approvers), mentions(req.approvers))
        }
        doing = f"approve or deny request #{req.id} to run `{escape(req.action)}` for #{req.incident_id}"
        check(user, [groups[k] for k in WHO_DECIDES], doing, then="Nothing changed.")
        spec = snapshot.spec_of(baton, req)
        if inc.state == "resolved":  # resolving ends pending requests: one made before that rule
            why: str | None = ending.resolved(inc, decided=False)
        else:
            why = snapshot.changed(req, spec)
        if why is not None:
            ending.end_pending(s, req, inc, why=why, voided=inc.state != "resolved", now=now)
            s.commit()
            baton.wake()
            return Decision(_reread(s, request_id), already=True)
        assert spec is not None
        still = _still_allowed(baton, inc, req, spec)
        if user not in still:
            raise NotAllowed(messages.not_allowed_any_more(req, still=still))
        state = "approved" if approve else "denied"
        result = s.execute(
            update(ActionRequest)
            .where(
                col(ActionRequest.id) == request_id,
                col(ActionRequest.state) == "pending",
                col(ActionRequest.expires_at) > now,
            )
            .values(state=state, decided_by=user, decided_at=now, **({} if approve else {"call_params": {}}))
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            # Someone decided first, or it expired, since we read it.
            s.rollback()
            return Decision(_reread(s, request_id), already=True)
        s.refresh(req)
        assert inc.id is not None
        shown = messages.plain_what(req.action, req.params)
        timeline(
            s,
            inc.id,
            at=now,
            actor=user,
            kind=f"action {state}",
            text=f"{state} {shown} (request #{req.id}) asked by <@{req.requested_by}>",
            request=req.id,
            action=req.action,
        )
        if approve:
            _call(s, req, now=now)
        ending.say(s, inc, req, text=messages.decided_post(req), now=now)
        s.commit()
    baton.wake()
    return Decision(req, already=False)


def _still_allowed(baton: Baton, inc: Incident, req: ActionRequest, spec: ActionSpec) -> list[str]:
    """Those asked who may still approve, by the rule and the owners, commander and admins now
    (a handoff, a new commander or an edit of ownership.yaml since the request was made)."""
    try:
        now_allowed, _ = _approvers(baton, inc, req.action, spec, user=req.requested_by)
    except ActionError:  # nobody but the requester could approve it now
        return []
    return [u for u in req.approvers if u in now_allowed]


def _reread(s: Session, request_id: int) -> ActionRequest:
    req = s.exec(
        select(ActionRequest)
        .where(col(ActionRequest.id) == request_id)
        .execution_options(populate_existing=True)
    ).one()
    return req
