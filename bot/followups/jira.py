"""Jira Cloud: a follow-up becomes an issue (type Task unless `issue_type` says otherwise).

- create: `POST {url}/rest/api/3/issue`, basic auth with the e-mail address and API token,
  `fields` {project: {key}, summary, issuetype: {name}, labels, description}: the description in
  Atlassian Document Format (a doc of paragraphs of text nodes); 201 {id, key, self}, opened at
  `{url}/browse/{key}`. Jira refuses a bad field with 400 {errorMessages, errors}.
- find: a retry after an unknown outcome looks the issue up by the marker in its description,
  among the project's issues labelled `baton-<N>` (`GET /rest/api/3/search/jql`).
- probe: `GET /rest/api/3/project/{key}` for `baton check --slack`.

What the follow-up says is quoted so that it mentions and links nothing (`quoted`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.config.models import JiraTracker
from bot.followups.calls import Answer, Issue, TrackerError, call, refusal, said

SERVICE = "Jira"
SUMMARY = 250  # Jira's summary holds 255 characters

# What would mention or link in Jira: wiki mentions `[~user]` / `[~accountid:…]`, a typed
# @name, and a URL (Jira turns one into a smart link card). In the description each becomes
# a text node with the `code` mark: shown as typed, live as nothing.
_LIVE = re.compile(r"\[~[^\]\n]*\]|(?<![\w.])@[\w./-]+|https?://[^\s<>]+", re.I)


def quoted(text: str) -> list[dict[str, Any]]:
    """`text` as ADF inline nodes: plain text nodes, what would mention or link as code, lines
    joined by hardBreak nodes."""
    nodes: list[dict[str, Any]] = []
    for n, line in enumerate(text.split("\n")):
        if n:
            nodes.append({"type": "hardBreak"})
        pos = 0
        for m in _LIVE.finditer(line):
            if m.start() > pos:
                nodes.append({"type": "text", "text": line[pos : m.start()]})
            nodes.append({"type": "text", "text": m.group(0), "marks": [{"type": "code"}]})
            pos = m.end()
        if pos < len(line):
            nodes.append({"type": "text", "text": line[pos:]})
    return nodes


def summary(text: str) -> str:
    """A one-line summary (Jira refuses a newline in it), mentioning nobody."""
    line = " ".join(text.split())
    line = line[: SUMMARY - 1] + "…" if len(line) > SUMMARY else line
    return line.replace("[~", "[\u200b~")


def document(*paragraphs: list[dict[str, Any]]) -> dict[str, Any]:
    """An ADF doc of these paragraphs (empty ones left out: ADF refuses an empty text node)."""
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": p} for p in paragraphs if p],
    }


def _base(cfg: JiraTracker) -> str:
    return str(cfg.url).rstrip("/")


def _call(cfg: JiraTracker, method: str, path: str, **kw: Any) -> Answer:
    return call(
        method,
        _base(cfg) + path,
        service=SERVICE,
        headers={"Accept": "application/json"},
        secrets=(cfg.token,),
        auth=(cfg.email, cfg.token),
        **kw,
    )


def message(answer: Answer, secrets: tuple[str, ...]) -> str:
    """Jira's words from an error: `errorMessages` and each field's entry of `errors`."""
    data = answer.data if isinstance(answer.data, dict) else {}
    parts = [str(m) for m in data.get("errorMessages") or []]
    errors = data.get("errors")
    if isinstance(errors, dict):
        parts += [f"{field}: {text}" for field, text in errors.items()]
    text = "; ".join(parts) if parts else answer.text
    return said(text, secrets)


def _refused(cfg: JiraTracker, answer: Answer) -> TrackerError:
    words = message(answer, (cfg.token,))
    data = answer.data if isinstance(answer.data, dict) else {}
    errors = data.get("errors") if isinstance(data.get("errors"), dict) else {}
    if answer.status == 400 and "project" in (errors or {}):
        # Jira answers a project that is not there (or not visible to the token) with a 400.
        return TrackerError(
            f"wrong repo or project: {cfg.project} (Jira: {words})", kind="missing", status=400
        )
    return refusal(answer, service=SERVICE, where=cfg.project, message=words)


def create(cfg: JiraTracker, *, title: str, description: dict[str, Any], labels: list[str]) -> Issue:
    fields = {
        "project": {"key": cfg.project},
        "summary": summary(title),
        "issuetype": {"name": cfg.issue_type},
        "labels": labels,
        "description": description,
    }
    answer = _call(cfg, "POST", "/rest/api/3/issue", payload={"fields": fields})
    if answer.status != 201 or not isinstance(answer.data, dict) or not answer.data.get("key"):
        raise _refused(cfg, answer)
    return _issue(cfg, str(answer.data["key"]))


def _issue(cfg: JiraTracker, key: str) -> Issue:
    return Issue(key=key, url=f"{_base(cfg)}/browse/{key}")


def find(cfg: JiraTracker, *, marker: str, label: str) -> Issue | None:
    """The issue whose description carries `marker`, or None."""
    jql = f'project = "{cfg.project}" AND labels = "{label}" ORDER BY created DESC'
    token: str | None = None
    for _ in range(3):
        params = {"jql": jql, "fields": "description", "maxResults": "100"}
        if token:
            params["nextPageToken"] = token
        answer = _call(cfg, "GET", "/rest/api/3/search/jql", params=params)
        if answer.status != 200 or not isinstance(answer.data, dict):
            raise _refused(cfg, answer)
        for item in answer.data.get("issues") or []:
            if isinstance(item, dict) and marker in json.dumps(item.get("fields") or {}):
                return _issue(cfg, str(item.get("key")))
        token = answer.data.get("nextPageToken")
        if not token:
            break
    return None


def probe(cfg: JiraTracker) -> str | None:
    """None when the project is there and the e-mail and token may see it; else what is wrong."""
    try:
        answer = _call(cfg, "GET", f"/rest/api/3/project/{cfg.project}")
    except TrackerError as e:
        return e.problem
    if answer.status == 200:
        return None
    if answer.status == 404:
        return (
            f"wrong project: {cfg.project} (Jira answered HTTP 404: no such project, or the token "
            "may not see it)"
        )
    if answer.status == 401:
        return "Jira refused the e-mail address and token (HTTP 401): set an API token of that account"
    return _refused(cfg, answer).problem
