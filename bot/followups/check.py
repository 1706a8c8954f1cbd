"""`baton check --slack` asks each tracker in ownership.yaml (the top-level one and each area's
own) whether its repo or project is there and its token works: GitHub `GET /repos/{o}/{r}`,
Jira `GET /rest/api/3/project/{key}`. A problem names the file:line of the tracker's key, like a
config error; never the token.
"""

from __future__ import annotations

from bot.config.issues import Loc, render_path
from bot.config.loader import Config
from bot.config.models import Tracker
from bot.followups import github, jira
from bot.slack.check import Problem


def trackers(config: Config) -> list[tuple[Loc, Tracker]]:
    """Each tracker the file configures, with the key path of its `github:` or `jira:`."""
    o = config.ownership
    found: list[tuple[Loc, Tracker]] = []
    if o.tracker is not None:
        found.append((("tracker",), o.tracker))
    for key, area in o.areas.items():
        if area.tracker is not None:
            found.append((("areas", key, "tracker"), area.tracker))
    return [((*loc, "github" if t.github is not None else "jira"), t) for loc, t in found]


def _value(tracker: Tracker) -> str:
    if tracker.github is not None:
        return tracker.github.repo
    assert tracker.jira is not None
    return f"{str(tracker.jira.url).rstrip('/')} {tracker.jira.project}"


def probe(tracker: Tracker) -> str | None:
    """What is wrong with one tracker, or None."""
    if tracker.github is not None:
        return github.probe(tracker.github)
    assert tracker.jira is not None
    return jira.probe(tracker.jira)


def check(config: Config) -> list[Problem]:
    """Every tracker that does not answer as it must; [] when each does (or none is set)."""
    problems = []
    file = str(config.ownership_path)
    for loc, tracker in trackers(config):
        message = probe(tracker)
        if message is not None:
            problems.append(Problem(file, render_path(loc), _value(tracker), message, config.line(file, loc)))
    return problems
