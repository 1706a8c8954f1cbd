"""Baton's paging latency, end to end, on loopback.

A real Baton (Bolt app, HTTP server, ticker, SQLite file) talks to bot.slack.standin.FakeSlack.
N P1 incidents in model-quality are declared through Slack-signed ``/incident`` requests, and
every figure is read from the fake's recorded Web API calls (their arrival ``monotonic``):

* declared -> first DM: the first ``chat.postMessage`` to a user/DM that pages the incident;
* declared -> channel created: the first successful ``conversations.create`` for it;
* T/2 and T steps: how late each DM of that step arrived after declared + T/2 (or + T).

"declared" is the incident's ``declared_at`` from the database (the commit of the declaration),
moved onto the monotonic clock. The run is repeated with ``conversations.create`` rate-limited
(429, Retry-After 2 s, N times) to show whether pages wait behind channel creation.

Run: ``.venv/bin/python bench/paging_latency.py [--incidents N]``. Stops by itself (bounded waits).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import yaml  # noqa: E402

from bot.app.runner import Runner, boot  # noqa: E402
from bot.config.loader import load_config  # noqa: E402
from bot.incidents import services as incidents  # noqa: E402
from bot.incidents.messages import ACK  # noqa: E402
from bot.slack.standin import Call, FakeSlack  # noqa: E402
from bot.store.policy import Step  # noqa: E402
from bot.store.settings import Settings  # noqa: E402
from handlers.app import create_app  # noqa: E402
from tests.slack_signing import post_signed, slash_command_body  # noqa: E402

SHIPPED_OWNERSHIP = ROOT / "ownership.yaml"
SHIPPED_SEVERITY = ROOT / "severity.yaml"
SECRET = "bench-signing-secret-0123456789abcdef"
REPORTER = "U07MAYA001"
AREA = "model-quality"
BACKLOG_CHANNEL = "C07BACKLOG"
PAGE_ON_TIME = 1.0  # s: Baton's own SLI (bot/incidents/paging.py PAGE_ON_TIME)
DECLARED = re.compile(r"incident \*?#(\d+)")
CHANNEL = re.compile(r"^inc-\d{8}-(\d+)(?:-|$)")


# --------------------------------------------------------------------------- set-up


def add_people(fake: FakeSlack, ownership_path: Path) -> None:
    """A Slack account in the fake for every person in ownership.yaml (as tests/conftest.py does)."""
    people = (yaml.safe_load(ownership_path.read_text()) or {}).get("people") or {}
    for handle, ref in people.items():
        if "@" in str(ref):
            fake.add_user("U" + handle.upper().replace("-", "")[:8] + "E", handle, email=str(ref))
        else:
            fake.add_user(str(ref), handle)


def fast_severity(path: Path, seconds: int) -> None:
    """The shipped severity.yaml with P1's response_time set to `seconds`."""
    text = SHIPPED_SEVERITY.read_text()
    new, count = re.subn(r"(P1:\s*\{[^}]*?response_time:\s*)[^,}\s]+", rf"\g<1>{seconds}s", text)
    if count != 1:
        raise SystemExit("could not find P1's response_time in severity.yaml")
    path.write_text(new)


def mono_offset() -> float:
    """time.time() - time.monotonic(), to put database wall-clock times on the monotonic clock."""
    best: tuple[float, float] | None = None
    for _ in range(5):
        m0 = time.monotonic()
        wall = time.time()
        m1 = time.monotonic()
        if best is None or m1 - m0 < best[0]:
            best = (m1 - m0, wall - (m0 + m1) / 2)
    assert best is not None
    return best[1]


# --------------------------------------------------------------------------- one run


@dataclass
class Declared:
    number: int
    sent: float  # monotonic, request sent (or direct call started)
    answered: float  # monotonic, 200 received (or direct call returned)
    declared: float = 0.0  # monotonic, declared_at from the database
    steps: list[Step] = field(default_factory=list)


@dataclass
class Run:
    name: str
    window: float
    via: str
    incidents: list[Declared]
    calls: list[Call]
    notes: list[str] = field(default_factory=list)


def declare_all(runner: Runner, n: int, notes: list[str]) -> tuple[list[Declared], str]:
    url = f"http://127.0.0.1:{runner.http.port}/slack/events"
    out: list[Declared] = []
    via = "/incident slash command (signed POST to /slack/events)"
    with httpx.Client(timeout=10) as client:
        for i in range(n):
            title = f"Bench hallucination spike {i + 1}"
            body = slash_command_body("/incident", f"P1 {AREA} {title}", user_id=REPORTER)
            sent = time.monotonic()
            number: int | None = None
            try:
                resp = post_signed(url, body, SECRET, client=client)
                answered = time.monotonic()
                match = DECLARED.search(resp.text) if resp.status_code == 200 else None
                if match:
                    number = int(match.group(1))
                else:
                    notes.append(f"/incident answered {resp.status_code}: {resp.text[:120]!r}")
            except httpx.HTTPError as e:
                notes.append(f"/incident failed: {type(e).__name__}")
            if number is None:
                # The handler is missing or did not declare: use the service directly.
                via = "bot.incidents.services.declare() directly (the /incident handler did not declare)"
                sent = time.monotonic()
                inc = incidents.declare(
                    baton=runner.baton, severity="P1", area=AREA, title=title, reporter=REPORTER
                )
                answered = time.monotonic()
                assert inc.id is not None
                number = inc.id
            out.append(Declared(number, sent, answered))
    return out, via


def expected_dms(decl: Declared, step: int) -> int:
    for st in decl.steps:
        if st.index == step:
            return sum(1 for p in st.notify if p.user)
    return 0


def _blocks(call: Call) -> list[Any]:
    blocks = call.params.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return []
    return blocks if isinstance(blocks, list) else []


def page_dms(calls: list[Call]) -> list[tuple[int, Call]]:
    """(incident number, call) for every successful page: a DM with the Acknowledge button.

    Other DMs (e.g. "could not set up the channel" to the reporter) are not pages.
    """
    out = []
    for c in calls:
        if c.method != "chat.postMessage" or not c.ok:
            continue
        if str(c.params.get("channel", ""))[:1] not in ("U", "W", "D"):
            continue
        for block in _blocks(c):
            for el in block.get("elements", []) if isinstance(block, dict) else []:
                if isinstance(el, dict) and el.get("action_id") == ACK and str(el.get("value", "")).isdigit():
                    out.append((int(el["value"]), c))
    return out


def _reason(call: Call) -> str | None:
    for block in _blocks(call):
        if isinstance(block, dict) and block.get("type") == "context":
            for el in block.get("elements", []):
                if isinstance(el, dict) and "text" in el:
                    return str(el["text"])
    return None


def dms_by_step(decl: Declared, dms: list[Call]) -> dict[int, list[Call]]:
    """The incident's DMs grouped by ladder step: by the reason line, else by order per person."""
    by_desc = {st["description"]: st["index"] for st in decl.steps}
    out: dict[int, list[Call]] = {st["index"]: [] for st in decl.steps}
    seen: dict[str, int] = {}
    for call in sorted(dms, key=lambda c: c.monotonic):
        step = by_desc.get(_reason(call) or "")
        if step is None:  # unknown wording: the k-th DM to a person is their k-th step
            user = str(call.params.get("channel"))
            steps = [st["index"] for st in decl.steps if any(p["user"] == user for p in st["notify"])]
            k = seen.get(user, 0)
            seen[user] = k + 1
            if k >= len(steps):
                continue
            step = steps[k]
        out.setdefault(step, []).append(call)
    return out


def channels_created(calls: list[Call]) -> dict[int, float]:
    out: dict[int, float] = {}
    for c in calls:
        if c.method == "conversations.create" and c.ok:
            match = CHANNEL.match(str(c.params.get("name", "")))
            if match:
                out.setdefault(int(match.group(1)), c.monotonic)
    return out


def complete(decls: list[Declared], calls: list[Call]) -> bool:
    dms: dict[int, list[Call]] = {}
    for number, call in page_dms(calls):
        dms.setdefault(number, []).append(call)
    created = channels_created(calls)
    for d in decls:
        if d.number not in created:
            return False
        got = dms_by_step(d, dms.get(d.number, []))
        if any(len(got.get(st["index"], [])) < expected_dms(d, st["index"]) for st in d.steps):
            return False
    return True


def run(name: str, n: int, window: int, *, rate_limit_create: bool, budget: float) -> Run:
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="baton-bench-") as tmp, FakeSlack() as fake:
        add_people(fake, SHIPPED_OWNERSHIP)
        fake.add_channel("ai-backlog", channel_id=BACKLOG_CHANNEL)
        severity = Path(tmp) / "severity.yaml"
        fast_severity(severity, window)
        settings = Settings.from_env(
            {
                "SLACK_BOT_TOKEN": fake.bot_token,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": fake.url,
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'baton.db'}",
                "BATON_OWNERSHIP_FILE": str(SHIPPED_OWNERSHIP),
                "BATON_SEVERITY_FILE": str(severity),
                "PORT": "0",
            }
        )
        config = load_config(
            ownership_path=settings.ownership_file, severity_path=settings.severity_file, env={}
        )
        baton = boot(settings, config)
        runner = Runner(baton, create_app(baton), host="127.0.0.1", port=0)
        runner.start()
        try:
            fake.reset_calls()  # start-up lookups are not part of paging
            if rate_limit_create:
                fake.inject("conversations.create", status=429, retry_after=2, times=n)
            decls, via = declare_all(runner, n, notes)
            offset = mono_offset()
            for d in decls:
                inc = incidents.get(baton=baton, number=d.number)
                at = inc.declared_at if inc.declared_at.tzinfo else inc.declared_at.replace(tzinfo=UTC)
                d.declared = at.timestamp() - offset
                d.steps = list(inc.policy.steps)
                if not d.sent - 0.05 <= d.declared <= d.answered + 0.05:
                    notes.append(f"#{d.number}: declared_at off the request's span; using the send time")
                    d.declared = d.sent
            # Bounded wait: every DM of every step, and every channel, or the budget runs out.
            last_step = max((st["after"] for d in decls for st in d.steps), default=0.0)
            until = time.monotonic() + min(budget, last_step + 10.0)
            while time.monotonic() < until:
                with fake._lock:
                    calls = list(fake.calls)
                if complete(decls, calls):
                    break
                time.sleep(0.1)
            else:
                notes.append(f"stopped waiting after the {budget:.0f}s budget; missing items are counted")
            with fake._lock:
                calls = list(fake.calls)
        finally:
            runner.stop()
    return Run(name, float(window), via, decls, calls, notes)


# --------------------------------------------------------------------------- figures


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if abs(seconds) < 10 else f"{seconds:,.1f} s"


@dataclass
class Row:
    scenario: str
    metric: str
    values: list[float]
    expected: int
    on_time: bool = False  # also show the share within PAGE_ON_TIME


def figures(r: Run) -> list[Row]:
    dms: dict[int, list[Call]] = {}
    for number, call in page_dms(r.calls):
        dms.setdefault(number, []).append(call)
    created = channels_created(r.calls)
    rows = [
        Row(
            r.name,
            "/incident answered (round trip)",
            [d.answered - d.sent for d in r.incidents],
            len(r.incidents),
        )
    ]
    first, step0, half, breach = [], [], [], []
    n0 = n1 = n2 = 0
    for d in r.incidents:
        got = dms_by_step(d, dms.get(d.number, []))
        if dms.get(d.number):
            first.append(min(c.monotonic for c in dms[d.number]) - d.declared)
        step0 += [c.monotonic - d.declared for c in got.get(0, [])]
        for st in d.steps:
            lateness = [c.monotonic - (d.declared + st["after"]) for c in got.get(st["index"], [])]
            if st["index"] == 1:
                half += lateness
                n1 += expected_dms(d, 1)
            elif st["breach"]:
                breach += lateness
                n2 += expected_dms(d, st["index"])
        n0 += expected_dms(d, 0)
    n = len(r.incidents)
    rows += [
        Row(r.name, "declared -> first DM", first, n, on_time=True),
        Row(r.name, "declared -> every step-0 DM", step0, n0, on_time=True),
        Row(
            r.name,
            "declared -> channel created",
            [created[d.number] - d.declared for d in r.incidents if d.number in created],
            n,
        ),
        Row(r.name, "T/2 DMs: late vs declared+T/2", half, n1, on_time=True),
        Row(r.name, "T DMs (breach): late vs declared+T", breach, n2, on_time=True),
    ]
    return rows


def table(rows: list[Row]) -> str:
    head = ("scenario", "metric", "n", "p50", "p95", "max", f"<={PAGE_ON_TIME:.0f}s")
    lines = []
    for row in rows:
        v = row.values
        count = f"{len(v)}/{row.expected}" if len(v) != row.expected else str(len(v))
        stats = (ms(pct(v, 50)), ms(pct(v, 95)), ms(max(v))) if v else ("-", "-", "-")
        share = f"{sum(x <= PAGE_ON_TIME for x in v) / len(v):.0%}" if row.on_time and v else ""
        lines.append((row.scenario, row.metric, count, *stats, share))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
    left = {0, 1}

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(head), rule, *(fmt(line) for line in lines)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=20, help="incidents per scenario (default 20)")
    parser.add_argument("--window", type=int, default=4, help="P1 response_time in seconds (default 4)")
    parser.add_argument("--verbose", action="store_true", help="show Baton's own log lines")
    args = parser.parse_args(argv)
    if not 1 <= args.incidents <= 200 or not 2 <= args.window <= 20:
        parser.error("--incidents must be 1..200 and --window 2..20")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.CRITICAL, format="%(levelname)s %(name)s: %(message)s"
    )

    started = time.monotonic()
    n, window = args.incidents, args.window
    runs = [
        run("baseline", n, window, rate_limit_create=False, budget=20),
        run(f"conversations.create 429 x{n}", n, window, rate_limit_create=True, budget=25),
    ]
    print(
        f"Baton paging latency: {n} x P1 {AREA} per scenario, T = {window}s (T/2 = {window / 2:g}s), "
        "SQLite, FakeSlack on 127.0.0.1"
    )
    print(f"declared via: {runs[0].via}")
    print(
        "times from the fake's arrival clock; 'late' = arrival - due time; "
        f"<={PAGE_ON_TIME:.0f}s = share within Baton's page-on-time SLI\n"
    )
    print(table([row for r in runs for row in figures(r)]))
    for r in runs:
        creates = [c for c in r.calls if c.method == "conversations.create"]
        refused = sum(1 for c in creates if c.http_status == 429)
        print(f"\n{r.name}: conversations.create calls {len(creates)} ({refused} answered 429)")
        for note in dict.fromkeys(r.notes):
            print(f"  note: {note}")
    print(f"\nbench took {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
