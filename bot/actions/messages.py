"""What Baton says about action requests: the DM asking
an approver, with Approve and Deny; the lines in the incident channel; the answers to the
requester and to whoever clicks. Plain dicts, so the domain needs no Slack library.

Parameter values are text a person typed (masked before storage): escaped here. Action names,
titles and parameter names come from ownership.yaml, escaped all the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.incidents.messages import mention, mentions
from bot.incidents.messages import title as incident_title
from bot.store.clock import slack_time
from bot.store.models import ActionRequest, Incident
from bot.text.blocks import Blocks, actions, button, context, section
from bot.text.mrkdwn import clip, either, escape

# Action IDs of the buttons in an approver's DM; their value is the request's id.
APPROVE = "action_approve"
DENY = "action_deny"


PARAM_SHOWN = 100  # characters of one value in a message; the row keeps it whole (masked)


def params_text(params: dict[str, Any]) -> str:
    """`version=v41, region=eu` as mrkdwn (values escaped), or "" without parameters."""
    return ", ".join(
        f"{escape(name)}={escape(clip(str(value), PARAM_SHOWN))}" for name, value in params.items()
    )


def what(req: ActionRequest) -> str:
    """`` `rollback-prompt` (version=v41) ``."""
    shown = params_text(req.params)
    return f"`{escape(req.action)}`" + (f" ({shown})" if shown else "")


def plain_what(action: str, params: dict[str, Any]) -> str:
    """For the timeline (stored raw, escaped wherever it is shown): `rollback-prompt (version=v41)`."""
    shown = ", ".join(f"{name}={value}" for name, value in params.items())
    return action + (f" ({shown})" if shown else "")


def anyone_of(users: list[str]) -> str:
    """`<@A>`, `<@A> or <@B>`, `one of <@A>, <@B> or <@C>`."""
    named = either([mention(u) for u in users])
    return f"one of {named}" if len(users) > 2 else named


def when(ts: datetime) -> str:
    return slack_time(ts)


# -- asking ------------------------------------------------------------------------------------


def approval_dm(req: ActionRequest, inc: Incident, *, why: str) -> tuple[str, Blocks]:
    """The DM to one approver: who asks to run what for which incident, until when, and why they
    are asked; Approve and Deny."""
    assert req.id is not None
    asker = mention(req.requested_by)
    text = (
        f":raised_hand: {asker} asks to run {what(req)} for incident #{inc.id}: "
        f"approve or deny by {when(req.expires_at)}."
    )
    lines = [
        f":raised_hand: *{asker} asks to run {what(req)}*: {escape(clip(req.title, 200))}",
        f"Incident *#{inc.id}* {inc.severity} `{escape(inc.area)}`: {incident_title(inc, 150)}",
        f"Decide by {when(req.expires_at)}; after that the request expires and nothing runs.",
    ]
    blocks: Blocks = [
        section("\n".join(lines)),
        context(f"Request #{req.id}. {why}"),
        actions(
            button("Approve", APPROVE, str(req.id), style="primary"),
            button("Deny", DENY, str(req.id), style="danger"),
            block_id=f"action-request-{req.id}",
        ),
    ]
    return text, blocks


def requested_post(req: ActionRequest) -> str:
    """In the incident channel: `@x asks to run `rollback-prompt` (version=v41): waiting for
    approval by @maya until …`."""
    asker = mention(req.requested_by)
    if req.approval == "none":
        return f":gear: {asker} runs {what(req)}: it needs no approval, so Baton calls it now."
    return (
        f":raised_hand: {asker} asks to run {what(req)}: waiting for approval by "
        f"{anyone_of(req.approvers)} until {when(req.expires_at)}."
    )


def requested_reply(req: ActionRequest) -> str:
    """The requester's ephemeral answer: what happened and who was asked."""
    if req.approval == "none":
        return (
            f":gear: {what(req)} needs no approval: Baton calls it now (request #{req.id}). "
            "The call and its answer go on the timeline."
        )
    return (
        f":raised_hand: Asked {anyone_of(req.approvers)} to approve {what(req)} (request #{req.id}). "
        f"Nothing runs until {'one of them approves' if len(req.approvers) > 1 else 'they approve'}; "
        f"unless someone decides by {when(req.expires_at)}, the request expires."
    )


# -- deciding ----------------------------------------------------------------------------------


def decided_post(req: ActionRequest) -> str:
    """In the incident channel, once someone decided."""
    assert req.decided_by is not None
    asker, decider = mention(req.requested_by), mention(req.decided_by)
    if req.state == "denied":
        return f":no_entry: {decider} denied {asker}'s request to run {what(req)}: it will not run."
    return f":white_check_mark: {decider} approved {asker}'s request to run {what(req)}: Baton calls it now."


def decided_reply(req: ActionRequest) -> str:
    """What replaces the approver's DM once their decision counted (no buttons left to click)."""
    if req.state == "denied":
        return f":no_entry: You denied request #{req.id} to run {what(req)}: it will not run."
    return f":white_check_mark: You approved request #{req.id} to run {what(req)}: Baton calls it now."


def already(req: ActionRequest) -> str:
    """A click on a request decided before (or expired, or ended): nothing changed."""
    head = f"Request #{req.id} to run {what(req)}"
    if req.state == "expired" and req.error:
        return (
            f":hourglass: {head} ended at {when(req.expires_at)}: {escape(req.error)}, so nothing ran. "
            "Ask again with `/incident run` if it is still needed."
        )
    if req.state == "pending" or req.state == "expired":
        return (
            f":hourglass: {head} expired at {when(req.expires_at)}: nobody decided in time, "
            "so nothing ran. Ask again with `/incident run` if it is still needed."
        )
    at = f" at {when(req.decided_at)}" if req.decided_at is not None else ""
    by = mention(req.decided_by) if req.decided_by else "someone"
    if req.state == "denied":
        return f"{head} was already denied by {by}{at}. Nothing changed."
    return f"{head} was already approved by {by}{at}. Nothing changed."


def expired_post(req: ActionRequest, *, window: str) -> str:
    asker = mention(req.requested_by)
    return (
        f":hourglass: Nobody decided on {asker}'s request to run {what(req)} within the {window} window "
        f"(asked: {mentions(req.approvers)}): it expired and did not run. "
        "Ask again with `/incident run` if it is still needed."
    )


# -- ended without running (bot/actions/ending.py) ----------------------------------------------


def ended_post(req: ActionRequest, *, why: str, voided: bool) -> str:
    """In the incident channel: a pending request ended by the incident's resolution or by a
    change of its action's config."""
    asker = mention(req.requested_by)
    if voided:
        return (
            f":no_entry_sign: {asker}'s request to run {what(req)} was voided: {escape(why)}, so what "
            f"would be approved is not what was asked (asked: {mentions(req.approvers)}). It did not run; "
            "ask again with `/incident run` if it is still needed."
        )
    return (
        f":hourglass: {asker}'s request to run {what(req)} expired: {escape(why)} "
        f"(asked: {mentions(req.approvers)}). It did not run."
    )


def ended_dm(req: ActionRequest, *, why: str) -> str:
    """To each approver asked: nothing is left to decide (the buttons of their DM say so too)."""
    return (
        f":hourglass: Request #{req.id} to run {what(req)} for #{req.incident_id} ended: {escape(why)}. "
        "There is nothing to decide any more."
    )


def voided_dm(req: ActionRequest, *, why: str) -> str:
    """To the requester, when their request was voided by a change of the action's config."""
    return (
        f":no_entry_sign: Your request #{req.id} to run {what(req)} for #{req.incident_id} was voided: "
        f"{escape(why)}. It did not run; ask again with `/incident run` if it is still needed."
    )


def not_allowed_any_more(req: ActionRequest, *, still: list[str]) -> str:
    """To an approver asked when the request was made, who may no longer approve it."""
    head = (
        f"You were asked to decide request #{req.id} to run {what(req)}, but you may no longer approve "
        f"`{escape(req.action)}` for `{escape(req.area)}`."
    )
    if still:
        return f"{head} {anyone_of(still)} still may. Nothing changed."
    return (
        f"{head} None of those asked may any longer, so nobody can approve it: "
        f"{mention(req.requested_by)} can ask again with `/incident run`. Nothing changed."
    )
