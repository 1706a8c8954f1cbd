"""GitHub (and GitHub Enterprise, through `api_url`): a follow-up becomes an issue.

- create: `POST {api_url}/repos/{owner}/{repo}/issues` with a Bearer token, the JSON media type
  and API version 2022-11-28; body {title, body, labels: [incident, baton-<N>]}; 201 with
  `number` and `html_url`.
- find: a retry after an unknown outcome looks for the issue by the marker written into its
  body: first the repo's issues labelled `baton-<N>` (`GET /repos/{o}/{r}/issues`, read at
  once, unlike search), then the search API (`GET /search/issues`, `in:body`), for a token
  whose labels GitHub dropped (only users with push access may set labels).
- probe: `GET /repos/{owner}/{repo}` for `baton check --slack`.

What the follow-up says is quoted so that it notifies and links nothing (`quoted`).
"""

from __future__ import annotations

import re
from typing import Any

from bot.config.models import GitHubTracker
from bot.followups.calls import Answer, Issue, TrackerError, call, refusal, said

SERVICE = "GitHub"
VERSION = "2022-11-28"
PAGES = 3  # pages of 100 labelled issues read when looking for one

# A typed @name (a person or @org/team), #123 / owner/repo#123 / GH-123 (links to an issue,
# and a back-reference in it): a zero-width space after the @, # or GH- keeps the text as it
# reads and makes it notify and link nothing, as GitHub's own bots write mentions they quote.
_ZWSP = "\u200b"
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_ISSUE = re.compile(r"#(?=\d)")
_GH = re.compile(r"\b(GH-)(?=\d)", re.I)


def quoted(text: str) -> str:
    """`text` as it goes into an issue: `@maya` and `#12` shown as typed, notifying and linking
    nothing."""
    text = _MENTION.sub("@" + _ZWSP, text)
    text = _ISSUE.sub("#" + _ZWSP, text)
    return _GH.sub(lambda m: m.group(1) + _ZWSP, text)


def _base(cfg: GitHubTracker) -> str:
    return str(cfg.api_url).rstrip("/")


def _headers(cfg: GitHubTracker) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {cfg.token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": VERSION,
    }


def _get(cfg: GitHubTracker, path: str, params: dict[str, str] | None = None) -> Answer:
    return call(
        "GET", _base(cfg) + path, service=SERVICE, headers=_headers(cfg), secrets=(cfg.token,), params=params
    )


def message(answer: Answer, secrets: tuple[str, ...]) -> str:
    """GitHub's words from an error: `message`, and each of `errors` (a 422's validation)."""
    data = answer.data if isinstance(answer.data, dict) else {}
    parts = [str(data["message"])] if data.get("message") else []
    for error in data.get("errors") or []:
        if isinstance(error, dict):
            parts.append(
                str(
                    error.get("message") or " ".join(str(error.get(k, "")) for k in ("field", "code")).strip()
                )
            )
        else:
            parts.append(str(error))
    text = "; ".join(p for p in parts if p) if parts else answer.text
    return said(text, secrets)


def _refused(cfg: GitHubTracker, answer: Answer) -> TrackerError:
    return refusal(answer, service=SERVICE, where=cfg.repo, message=message(answer, (cfg.token,)))


def create(cfg: GitHubTracker, *, title: str, body: str, labels: list[str]) -> Issue:
    answer = call(
        "POST",
        f"{_base(cfg)}/repos/{cfg.repo}/issues",
        service=SERVICE,
        headers=_headers(cfg),
        secrets=(cfg.token,),
        payload={"title": title, "body": body, "labels": labels},
    )
    if answer.status != 201 or not isinstance(answer.data, dict):
        raise _refused(cfg, answer)
    return _issue(cfg, answer.data)


def _issue(cfg: GitHubTracker, data: dict[str, Any]) -> Issue:
    return Issue(key=f"{cfg.repo}#{data.get('number')}", url=str(data.get("html_url", "")))


def find(cfg: GitHubTracker, *, marker: str, label: str) -> Issue | None:
    """The issue whose body carries `marker`, or None."""
    for page in range(1, PAGES + 1):
        params = {"labels": label, "state": "all", "per_page": "100", "page": str(page)}
        answer = _get(cfg, f"/repos/{cfg.repo}/issues", params)
        if answer.status != 200 or not isinstance(answer.data, list):
            raise _refused(cfg, answer)
        for item in answer.data:
            if (
                isinstance(item, dict)
                and "pull_request" not in item
                and marker in str(item.get("body") or "")
            ):
                return _issue(cfg, item)
        if len(answer.data) < 100:
            break
    answer = _get(
        cfg, "/search/issues", {"q": f'"{marker}" repo:{cfg.repo} in:body type:issue', "per_page": "10"}
    )
    if answer.status != 200 or not isinstance(answer.data, dict):
        raise _refused(cfg, answer)
    for item in answer.data.get("items") or []:
        if isinstance(item, dict) and marker in str(item.get("body") or ""):
            return _issue(cfg, item)
    return None


def probe(cfg: GitHubTracker) -> str | None:
    """None when the repo is there and the token may see it; else what is wrong."""
    try:
        answer = _get(cfg, f"/repos/{cfg.repo}")
    except TrackerError as e:
        return e.problem
    if answer.status == 200:
        return None
    if answer.status == 404:
        return f"wrong repo: {cfg.repo} (GitHub answered HTTP 404: no such repo, or the token may not see it)"
    return _refused(cfg, answer).problem
