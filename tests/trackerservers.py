"""A local GitHub and a local Jira Cloud, on 127.0.0.1, answering as their public references say.

`GitHubServer` (REST API 2022-11-28): `POST /repos/{o}/{r}/issues` (201 with number, html_url;
401 "Bad credentials" without the right Bearer token; 404 for a repo it does not have; 422
"Validation Failed" with `errors` for a missing title), `GET /repos/{o}/{r}/issues?labels=…`,
`GET /search/issues?q=…` and `GET /repos/{o}/{r}`. `prefix="/api/v3"` makes it a GitHub
Enterprise Server. `JiraServer` (REST API v3): `POST /rest/api/3/issue` (basic auth with e-mail
and API token; 201 {id, key, self}; 400 {errorMessages, errors} for a bad project, summary or a
description that is not Atlassian Document Format), `GET /rest/api/3/search/jql?jql=…` (labels and
project only) and `GET /rest/api/3/project/{key}`.

Both record every request and take scripted answers for a route ("create", "list", "search",
"probe"): `answer("create", 429, headers={"Retry-After": "30"})`, `answer("create", 502,
made=True)` (the issue is made, then 502: the answer lost), `answer("create", 401,
body=…)`. `hang("create")` makes the next create wait past Baton's timeout after making it.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.webhookserver import QuietServer


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Scripted:
    status: int
    body: Any
    headers: dict[str, str]
    made: bool  # make the issue, then answer this (a lost answer)
    hang: float


@dataclass
class _Server:
    token: str
    requests: list[Request] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    _script: dict[str, list[_Scripted]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _http: QuietServer | None = None

    # -- scripting -------------------------------------------------------------------------------

    def answer(
        self,
        route: str,
        status: int,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        made: bool = False,
        times: int = 1,
    ) -> None:
        with self._lock:
            for _ in range(times):
                self._script.setdefault(route, []).append(_Scripted(status, body, headers or {}, made, 0.0))

    def hang(self, route: str, seconds: float) -> None:
        """The next call of `route` does its work, then answers only after `seconds`."""
        with self._lock:
            self._script.setdefault(route, []).append(_Scripted(0, None, {}, True, seconds))

    def _next(self, route: str) -> _Scripted | None:
        with self._lock:
            queue = self._script.get(route) or []
            return queue.pop(0) if queue else None

    def calls(self, method: str, pattern: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    @property
    def url(self) -> str:
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    # -- serving ---------------------------------------------------------------------------------

    def handle(self, req: Request) -> tuple[int, Any, dict[str, str], float]:
        """(status, JSON body, headers, seconds to wait before answering) for one request."""
        raise NotImplementedError

    @contextmanager
    def serving(self) -> Iterator[_Server]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(
                    self.command,
                    split.path,
                    {k: v[0] for k, v in parse_qs(split.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                status, body, headers, hang = owner.handle(req)
                if hang:
                    time.sleep(hang)
                data = b"" if body is None else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except ConnectionError:
                    pass

            do_GET = do_POST = _serve

        self._http = QuietServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._http.shutdown()
            self._http.server_close()

    def scripted(self, route: str, make: Any) -> tuple[int, Any, dict[str, str], float] | None:
        """A scripted answer for `route`, making the issue first when it says so."""
        step = self._next(route)
        if step is None:
            return None
        if step.made:
            made = make()
            if step.hang:
                return made[0], made[1], made[2], step.hang
        return step.status, step.body, step.headers, 0.0


class GitHubServer(_Server):
    def __init__(
        self, *, token: str, repos: tuple[str, ...] = ("acme/ml-platform",), prefix: str = ""
    ) -> None:
        super().__init__(token=token)
        self.repos = set(repos)
        self.prefix = prefix

    @property
    def api_url(self) -> str:
        return self.url + self.prefix

    def handle(self, req: Request) -> tuple[int, Any, dict[str, str], float]:
        with self._lock:
            self.requests.append(req)
        path = req.path
        if self.prefix:
            if not path.startswith(self.prefix + "/"):
                return 404, {"message": "Not Found"}, {}, 0.0
            path = path[len(self.prefix) :]
        if req.headers.get("authorization") != f"Bearer {self.token}":
            # GitHub's own words; this one also echoes what it got, as a careless proxy might.
            got = req.headers.get("authorization", "")
            return (
                401,
                {"message": f"Bad credentials ({got})", "documentation_url": "https://docs.github.com/rest"},
                {},
                0.0,
            )
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues", path)
        if m and req.method == "POST":
            made = self.scripted("create", lambda: self._create(m.group(1), req))
            return made if made is not None else self._create(m.group(1), req)
        if m and req.method == "GET":
            made = self.scripted("list", lambda: None)
            return made if made is not None else self._list(m.group(1), req)
        if path == "/search/issues":
            made = self.scripted("search", lambda: None)
            return made if made is not None else self._search(req)
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)", path)
        if m and req.method == "GET":
            made = self.scripted("probe", lambda: None)
            if made is not None:
                return made
            if m.group(1) in self.repos:
                return 200, {"full_name": m.group(1), "has_issues": True}, {}, 0.0
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, {}, 0.0

    def _create(self, repo: str, req: Request) -> tuple[int, Any, dict[str, str], float]:
        if repo not in self.repos:
            return 404, {"message": "Not Found"}, {}, 0.0
        data = req.json()
        if not str(data.get("title") or "").strip():
            errors = [{"resource": "Issue", "code": "missing_field", "field": "title"}]
            return 422, {"message": "Validation Failed", "errors": errors}, {}, 0.0
        with self._lock:
            number = len(self.issues) + 1
            issue = {
                "number": number,
                "title": data["title"],
                "body": data.get("body"),
                "labels": [{"name": n} for n in data.get("labels") or []],
                "html_url": f"https://github.example/{repo}/issues/{number}",
                "url": f"{self.api_url}/repos/{repo}/issues/{number}",
                "state": "open",
                "repo": repo,
            }
            self.issues.append(issue)
        return 201, issue, {"Location": issue["url"]}, 0.0

    def _list(self, repo: str, req: Request) -> tuple[int, Any, dict[str, str], float]:
        if repo not in self.repos:
            return 404, {"message": "Not Found"}, {}, 0.0
        wanted = set(filter(None, req.query.get("labels", "").split(",")))
        found = [
            i for i in self.issues if i["repo"] == repo and wanted <= {label["name"] for label in i["labels"]}
        ]
        per, page = int(req.query.get("per_page", "30")), int(req.query.get("page", "1"))
        return 200, found[(page - 1) * per : page * per], {}, 0.0

    def _search(self, req: Request) -> tuple[int, Any, dict[str, str], float]:
        q = req.query.get("q", "")
        phrase = re.search(r'"([^"]+)"', q)
        repo = re.search(r"repo:(\S+)", q)
        items = [
            i
            for i in self.issues
            if phrase
            and phrase.group(1) in (i["body"] or "")
            and (repo is None or i["repo"] == repo.group(1))
        ]
        return 200, {"total_count": len(items), "incomplete_results": False, "items": items}, {}, 0.0


class JiraServer(_Server):
    def __init__(self, *, email: str, token: str, projects: tuple[str, ...] = ("MLOPS",)) -> None:
        super().__init__(token=token)
        self.email = email
        self.projects = set(projects)

    def handle(self, req: Request) -> tuple[int, Any, dict[str, str], float]:
        with self._lock:
            self.requests.append(req)
        wanted = "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        if req.headers.get("authorization") != wanted:
            # Jira answers 401 with no JSON body to be relied on; this one echoes the header.
            return (
                401,
                {"errorMessages": [f"Client must be authenticated ({req.headers.get('authorization')})"]},
                {},
                0.0,
            )
        if req.path == "/rest/api/3/issue" and req.method == "POST":
            made = self.scripted("create", lambda: self._create(req))
            return made if made is not None else self._create(req)
        if req.path == "/rest/api/3/search/jql":
            made = self.scripted("search", lambda: None)
            return made if made is not None else self._search(req)
        m = re.fullmatch(r"/rest/api/3/project/([A-Z0-9_]+)", req.path)
        if m:
            made = self.scripted("probe", lambda: None)
            if made is not None:
                return made
            if m.group(1) in self.projects:
                return 200, {"key": m.group(1), "name": m.group(1)}, {}, 0.0
            return 404, {"errorMessages": [f"No project could be found with key '{m.group(1)}'."]}, {}, 0.0
        return 404, {"errorMessages": ["Not found"]}, {}, 0.0

    def _create(self, req: Request) -> tuple[int, Any, dict[str, str], float]:
        fields = req.json().get("fields") or {}
        errors: dict[str, str] = {}
        if (fields.get("project") or {}).get("key") not in self.projects:
            errors["project"] = "valid project is required"
        summary = str(fields.get("summary") or "")
        if not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif "\n" in summary or len(summary) > 255:
            errors["summary"] = (
                "The summary is invalid because it contains newline characters or is too long."
            )
        if (fields.get("issuetype") or {}).get("name") not in ("Task", "Bug", "Story"):
            errors["issuetype"] = "Specify a valid issue type"
        if not _is_adf(fields.get("description")):
            errors["description"] = (
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            )
        if errors:
            return 400, {"errorMessages": [], "errors": errors}, {}, 0.0
        with self._lock:
            number = len(self.issues) + 1
            key = f"{fields['project']['key']}-{number}"
            issue = {
                "id": str(10000 + number),
                "key": key,
                "self": f"{self.url}/rest/api/3/issue/{10000 + number}",
            }
            self.issues.append({**issue, "fields": fields})
        return 201, issue, {}, 0.0

    def _search(self, req: Request) -> tuple[int, Any, dict[str, str], float]:
        jql = req.query.get("jql", "")
        project = re.search(r'project\s*=\s*"?([A-Z0-9_]+)"?', jql)
        labels = re.findall(r'labels\s*=\s*"([^"]+)"', jql)
        found = [
            {
                "id": i["id"],
                "key": i["key"],
                "self": i["self"],
                "fields": {"description": i["fields"]["description"]},
            }
            for i in self.issues
            if (project is None or i["fields"]["project"]["key"] == project.group(1))
            and all(label in i["fields"].get("labels", []) for label in labels)
        ]
        return 200, {"issues": found, "isLast": True}, {}, 0.0


def _is_adf(doc: Any) -> bool:
    """A doc of paragraphs of text nodes (and hard breaks), each text node non-empty."""
    if not isinstance(doc, dict) or doc.get("type") != "doc" or doc.get("version") != 1:
        return False
    for block in doc.get("content") or []:
        if block.get("type") != "paragraph":
            return False
        for node in block.get("content") or []:
            if node.get("type") == "hardBreak":
                continue
            if node.get("type") != "text" or not node.get("text"):
                return False
    return True
