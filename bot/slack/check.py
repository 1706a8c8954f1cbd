"""The config against Slack: does every channel, user group and user it names exist, and can
Baton post where it must? Run by `baton check --slack` and, in the background, by `baton serve`.

Each problem names the file and key path (like a config error), the value, what is wrong and
what to do. A failing Slack call becomes a problem too: the check reports, it never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bot.config.fields import is_email, is_user_id
from bot.config.issues import Loc, render_path
from bot.config.loader import Config
from bot.slack.chat import Chat, ChatError

log = logging.getLogger(__name__)

_REINSTALL = "reinstall the app from slack-app-manifest.yaml, which asks for it"

# Scopes Baton works without, worse: with them it finds a page whose answer was lost (a 5xx, a
# crash) in the person's DM instead of paging them again (bot/store/delivery.py).
DM_LOOKUP_SCOPES = ("im:write", "im:history")
# Without it a drill's score card is posted without the picture of its timeline.
FILES_SCOPE = "files:write"


def scope_warning(chat: Chat) -> str | None:
    """What the bot token lacks of DM_LOOKUP_SCOPES and what that costs, or None (also when
    Slack does not say which scopes the token has)."""
    try:
        granted = chat.granted_scopes()
    except ChatError:
        return None  # the rest of the check reports Slack's answer
    if granted is None:
        return None
    said = []
    missing = [scope for scope in DM_LOOKUP_SCOPES if scope not in granted]
    if missing:
        said.append(
            f"the bot token lacks {' and '.join(missing)}: after a lost answer (a Slack 5xx, a restart) "
            f"Baton cannot look in a person's DM for the page it sent, so it may page them twice"
        )
    if FILES_SCOPE not in granted:
        said.append(f"the bot token lacks {FILES_SCOPE}: a drill's score card goes without its picture")
    return "; ".join(said) + "; " + _REINSTALL if said else None


@dataclass(frozen=True)
class Problem:
    """One thing in the config that Slack does not agree with."""

    file: str
    path: str
    value: str
    message: str
    line: int | None = None  # where `path` is written in `file`, as config errors say it

    def __str__(self) -> str:
        at = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{at} {self.path}: {self.value}: {self.message}"


@dataclass(frozen=True)
class _Ref:
    file: str
    loc: Loc
    value: str


def check(config: Config, chat: Chat, *, lookup_emails: bool = True) -> list[Problem]:
    """Every problem found, in file order; [] when Slack agrees with the config.

    lookup_emails=False leaves e-mail addresses out: `baton serve` resolves (and reports) them
    itself at start-up.
    """
    asker = _Asker(chat)
    found = []
    for ref in _refs(config):
        kind = _kind(ref.loc, ref.value)
        if kind is None or (kind == "email" and not lookup_emails):
            continue
        message = asker.ask(kind, ref.value)
        if message is not None:
            line = config.line(ref.file, ref.loc)
            found.append(Problem(ref.file, render_path(ref.loc), ref.value, message, line))
    return found


def log_problems(config: Config, chat: Chat) -> list[Problem]:
    """Run the check and log each problem as one warning (for `baton serve`)."""
    try:
        warning = scope_warning(chat)
        if warning is not None:
            log.warning("%s", warning)
        problems = check(config, chat, lookup_emails=False)
    except Exception:  # a background check must not take the bot down
        log.exception("the start-up check of the config against Slack failed")
        return []
    for problem in problems:
        log.warning("%s", problem)
    n = len(problems)
    log.info(
        "checked %s and %s against Slack: %s",
        config.ownership_path,
        config.severity_path,
        f"{n} problem{'s' if n != 1 else ''} (above)" if n else "no problems",
    )
    return problems


# --------------------------------------------------------------------------- what the config names


def _kind(loc: Loc, value: str) -> str | None:
    key = next((part for part in reversed(loc) if isinstance(part, str)), "")
    if key in ("channel", "backlog_channel"):
        return "channel"
    if key == "usergroup":
        return "usergroup"
    if is_user_id(value):
        return "user"
    if is_email(value):
        return "email"
    return None


def _refs(config: Config) -> list[_Ref]:
    """Channels, user groups, user IDs and e-mails of both files, each with its key path."""
    o = config.ownership
    ownership_file, severity_file = str(config.ownership_path), str(config.severity_path)
    people: list[tuple[Loc, Any]] = [(("people", handle), ref) for handle, ref in o.people.items()]
    people += [(("admins", i), ref) for i, ref in enumerate(o.admins)]
    for key, team in o.teams.items():
        people += [(("teams", key, "members", i), ref) for i, ref in enumerate(team.members)]
        # On-call is a person, or a rotation with overrides: every text in it may name someone.
        people += _texts(("teams", key, "oncall"), _dump(team.oncall))
        people += [(("teams", key, "usergroup"), team.usergroup), (("teams", key, "channel"), team.channel)]
    for key, area in o.areas.items():
        people += [(("areas", key, "responsible"), area.responsible)]
        people += [(("areas", key, "accountable"), area.accountable)]
        people += [(("areas", key, "consulted", i), ref) for i, ref in enumerate(area.consulted)]
        people += [(("areas", key, "informed", i), ref) for i, ref in enumerate(area.informed)]
    if o.announce is not None:  # Baton posts each incident's announcement there
        people += [(("announce", "channel"), o.announce.channel)]
    ownership = [_Ref(ownership_file, loc, v) for loc, v in people if isinstance(v, str) and _kind(loc, v)]
    backlog = config.severity.backlog_channel
    severity = [_Ref(severity_file, ("backlog_channel",), backlog)] if backlog else []
    return [*ownership, *severity]


def _dump(value: Any) -> Any:
    return value.model_dump() if hasattr(value, "model_dump") else value


def _texts(loc: Loc, value: Any) -> Iterator[tuple[Loc, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _texts((*loc, str(key)), item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _texts((*loc, i), item)
    else:
        yield loc, value


class _Asker:
    """Asks Slack once per distinct value (and lists user groups once), remembering the answers."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self._answers: dict[tuple[str, str], str | None] = {}
        self._scopes: frozenset[str] | None = None
        self._groups: dict[str, dict[str, Any]] | str | None = None  # str: why they are unknown

    def ask(self, kind: str, value: str) -> str | None:
        key = (kind, value)
        if key not in self._answers:
            if kind == "channel":
                self._answers[key] = _channel(self.chat, value, self.scopes())
            elif kind == "usergroup":
                groups = self.groups()
                self._answers[key] = groups if isinstance(groups, str) else _usergroup(groups.get(value))
            elif kind == "user":
                self._answers[key] = _user(self.chat, value)
            else:
                self._answers[key] = _email(self.chat, value)
        return self._answers[key]

    def scopes(self) -> frozenset[str]:
        if self._scopes is None:
            try:
                self._scopes = self.chat.granted_scopes() or frozenset()
            except ChatError:
                self._scopes = frozenset()  # each channel's own call reports Slack's answer
        return self._scopes

    def groups(self) -> dict[str, dict[str, Any]] | str:
        if self._groups is None:
            try:
                self._groups = {str(g["id"]): g for g in self.chat.user_groups()}
            except ChatError as e:
                self._groups = _groups_failure(e)
        return self._groups


def _unreachable(e: ChatError) -> str:
    return f"could not ask Slack ({e.method}: {e.error}); run `baton check --slack` again later"


# --------------------------------------------------------------------------- channels


def _channel(chat: Chat, channel_id: str, scopes: frozenset[str]) -> str | None:
    try:
        info = chat.channel(channel_id)
    except ChatError as e:
        if e.error == "missing_scope":
            return (
                "Baton may not read channel details (missing_scope: channels:read, groups:read); "
                + _REINSTALL
            )
        return _unreachable(e) if e.retryable else f"Slack refused to describe it ({e.error})"
    if info is None:
        return (
            "no channel with this ID is visible to Baton: check the ID (in Slack: the channel's name → "
            "About → Channel ID), or, for a private channel, /invite @baton there"
        )
    name = f"#{info.get('name') or channel_id}"
    if info.get("is_im") or info.get("is_mpim"):
        return "is a direct message, not a channel: put a channel's ID here"
    if info.get("is_archived"):
        return (
            f"{name} is archived, so Baton cannot post there: unarchive it, or put another channel's ID here"
        )
    if not info.get("is_member"):
        if not info.get("is_private") and "chat:write.public" in scopes:
            return None  # public, and Baton may post in public channels it is not in
        return f"Baton is not a member of {name}, so it cannot post there: /invite @baton in {name}" + (
            "" if info.get("is_private") else ", or add the chat:write.public scope to the app"
        )
    return None


# --------------------------------------------------------------------------- user groups


def _groups_failure(e: ChatError) -> str:
    if e.error == "missing_scope":
        return "Baton may not list user groups (missing_scope: usergroups:read); " + _REINSTALL
    if e.error in ("paid_teams_only", "paid_only", "upgrade_required"):
        return (
            "this workspace's plan has no user groups: remove usergroup "
            "(the team is then paged person by person)"
        )
    return _unreachable(e) if e.retryable else f"Slack refused to list user groups ({e.error})"


def _usergroup(group: dict[str, Any] | None) -> str | None:
    if group is None:
        return (
            "no user group with this ID: check it (in Slack: People → User groups → the group → ⋮ → "
            "Copy group ID), or remove usergroup"
        )
    if group.get("date_delete"):
        return (
            f"the user group @{group.get('handle', '')} is disabled: enable it in Slack, or remove usergroup"
        )
    return None


# --------------------------------------------------------------------------- people


def _user(chat: Chat, user_id: str) -> str | None:
    try:
        user = chat.user(user_id)
    except ChatError as e:
        return _unreachable(e) if e.retryable else f"Slack refused to describe this user ({e.error})"
    if user is None:
        return (
            "no user with this ID in the workspace, so they cannot be paged: check the ID (their "
            "profile → ⋮ → Copy member ID)"
        )
    if user.get("deleted"):
        name = user.get("name") or user_id
        return f"@{name}'s account is deactivated, so they cannot be paged: put someone else here"
    return None


def _email(chat: Chat, email: str) -> str | None:
    try:
        user_id = chat.lookup_user_by_email(email)
    except ChatError as e:
        return _unreachable(e) if e.retryable else f"Slack refused to look up this e-mail ({e.error})"
    if user_id is None:
        return (
            "no Slack user has this e-mail, so they cannot be paged: fix the address, or give their "
            "Slack user ID instead (their profile → ⋮ → Copy member ID)"
        )
    return None
