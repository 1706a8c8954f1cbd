"""/incident: declare, and run an incident from its channel.

Parsing only: every rule lives in bot/incidents/services.py. Answers go back in the ack (a database
transaction takes milliseconds; Slack is only called later, by the ticker), so Slack gets its
200 well within 3 seconds. A bare `/incident` opens the declare form after the answer (views.open
is a Slack call, so it is a lazy function: see handlers/listener.py).
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, BoltContext

from bot.actions import messages as action_messages
from bot.actions import requests as action_requests
from bot.drills import start as drills
from bot.incidents import notes, reviews
from bot.incidents import services as incidents
from bot.incidents.services import EXAMPLE, IncidentError
from bot.records import evidence
from bot.store.db import session
from bot.store.runtime import Baton
from bot.text.errors import Refused
from bot.text.mrkdwn import unescape
from bot.text.typed import quote
from handlers.commands import followups
from handlers.listener import Listener, baton_of
from handlers.render import incident as render

SEVERITY = re.compile(r"^[pP]\d$")
NUMBER = re.compile(r"#(\d+)")
IN_CHANNEL = (
    *(
        "ack",
        "sev",
        "status",
        "evidence",
        "commander",
        "resolve",
        "reopen",
        "note",
        "timeline",
        "run",
        "review",
    ),
    *followups.SUBCOMMANDS,
)


def asks_for_the_form(command: dict[str, Any]) -> bool:
    return not (command.get("text") or "").strip()


def form_asked(ack: Ack, context: BoltContext) -> None:
    baton_of(context).metrics.requests.labels(kind="/incident").inc()
    ack()


def open_declare_form(command: dict[str, Any], context: BoltContext) -> None:
    baton = baton_of(context)
    baton.chat.open_view(command["trigger_id"], render.declare_view(baton))


def incident_command(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
    baton = baton_of(context)
    baton.metrics.requests.labels(kind="/incident").inc()
    # Slack sends `&`, `<`, `>` typed as entities: read back here, so a title, a summary or an
    # action's parameter is kept (and sent to a pager or webhook) as typed.
    text = unescape(command.get("text") or "").strip()
    try:
        ack(**dispatch(baton, text, user=command["user_id"], channel=command.get("channel_id", "")))
    except Refused as e:
        ack(**render.error(str(e)))


# A bare `/incident` first (its matcher), every other `/incident …` after it.
LISTENERS = (
    Listener(form_asked, lazy=[open_declare_form], matchers=[asks_for_the_form]),
    Listener(incident_command),
)


def dispatch(baton: Baton, text: str, *, user: str, channel: str) -> dict[str, Any]:
    words = text.split()
    sub = words[0].lower()
    if sub == "help":
        return render.help_reply()
    if sub == "list":
        return render.incident_list(incidents.list_open(baton=baton))
    if sub == "drill":
        return start_drill(baton, words[1:], user=user)
    if sub == "declare":
        words = words[1:]
    if words and SEVERITY.match(words[0]):
        return declare(baton, words, user=user)
    if sub == "declare":
        raise IncidentError(f"Start with a severity (P0–P3), e.g. `{EXAMPLE}`")
    if sub not in IN_CHANNEL:
        raise IncidentError(
            f"I don't know `/incident {quote(words[0])}`. Declare with `{EXAMPLE}`, or try `/incident help`."
        )
    rest = text.split(None, 1)[1] if len(words) > 1 else ""
    target = NUMBER.fullmatch(words[1]) if len(words) > 1 else None
    if target:
        # `/incident sev #12 P1`: for backlog items, which have no channel, or from elsewhere.
        inc = incidents.get(baton=baton, number=int(target.group(1)))
        rest = rest.split(None, 1)[1] if len(rest.split(None, 1)) > 1 else ""
    else:
        found = incidents.find_by_channel(baton=baton, channel_id=channel)
        if found is None:
            raise IncidentError(
                f"`/incident {sub}` works inside an incident channel (`#inc-…`), or name the incident: "
                f"`/incident {sub} #12 …`. Here you can declare (`{EXAMPLE}`) or see `/incident list`."
            )
        inc = found
    assert inc.id is not None
    number = inc.id
    if sub == "ack":
        result = incidents.acknowledge(baton=baton, number=number, user=user)
        if result.already:
            return render.reply(
                f"#{number} was already acknowledged by <@{result.incident.acknowledged_by}>."
            )
        return {}
    if sub == "sev":
        if not rest:
            raise IncidentError("Say the new severity, e.g. `/incident sev P0`")
        incidents.change_severity(baton=baton, number=number, severity=rest.split()[0], user=user)
        return {}
    if sub == "status":
        incidents.set_status(baton=baton, number=number, text=rest, user=user)
        return {}
    if sub == "commander":
        who, _, note = rest.partition(" ")
        example = "e.g. `/incident commander @maya taking over for the night`"
        if not who:
            raise IncidentError(f"Name the new commander, {example}")
        person = baton.ownership.person_named(who, then=example)
        user_id = baton.ownership.user_id(person)
        if user_id is None:
            raise IncidentError(
                f"`{quote(person)}` has no Slack account Baton knows: name the new commander by their "
                f"Slack mention, {example}"
            )
        incidents.set_commander(baton=baton, number=number, commander=user_id, user=user, note=note)
        return {}
    if sub == "resolve":
        incidents.resolve(baton=baton, number=number, summary=rest, user=user)
        return {}
    if sub == "reopen":
        incidents.reopen(baton=baton, number=number, user=user)
        return {}
    if sub == "evidence":
        evidence.add(baton=baton, number=number, author=user, text=rest)
        return render.reply(f":pushpin: Added to the evidence of #{number}.") if inc.backlog else {}
    if sub == "run":
        action, *args = rest.split() or [""]
        req = action_requests.request(baton=baton, number=number, action=action, args=args, user=user)
        return render.reply(action_messages.requested_reply(req))
    if sub == "review":
        reviews.record(baton=baton, number=number, link=rest, user=user)
        return render.reply(f":white_check_mark: Recorded the review of #{number}.")
    if sub == "timeline":
        return render.timeline(inc, incidents.timeline_of(baton=baton, number=number))
    if sub == "follow-up":
        return followups.follow_up(baton, inc, rest, user=user)
    if sub == "follow-ups":
        return followups.follow_ups(baton, inc)
    if sub == "note":
        with session(baton.engine) as s:
            return render.note(inc, notes.incident_note(s, inc))
    raise IncidentError(f"I don't know `/incident {sub}`; try `/incident help`.")  # pragma: no cover


def declare(baton: Baton, words: list[str], *, user: str) -> dict[str, Any]:
    if len(words) < 2:
        raise IncidentError(f"Name the area after the severity, e.g. `{EXAMPLE}`")
    inc = incidents.declare(
        baton=baton, severity=words[0], area=words[1], title=" ".join(words[2:]), reporter=user
    )
    return render.declared(inc)


def start_drill(baton: Baton, words: list[str], *, user: str) -> dict[str, Any]:
    """`/incident drill P1 model-quality [title]`: a rehearsal through the real ladder."""
    if len(words) < 2 or not SEVERITY.match(words[0]):
        raise IncidentError(f"Give the severity and the area to rehearse, e.g. `{drills.EXAMPLE}`")
    inc = drills.start(baton=baton, severity=words[0], area=words[1], title=" ".join(words[2:]), starter=user)
    return render.declared(inc)
