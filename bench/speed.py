"""Baton's speed, as an on-call engineer feels it: one table.

Baton runs as a real ``baton serve`` process (``handlers.app.main(["serve"])`` from the code
under test) on a SQLite file in a temp dir, talking to ``bot.slack.standin.FakeSlack`` in this
process; this process is Slack's side: it sends Slack-signed requests to /slack/events over a
persistent keep-alive httpx client and reads every other figure from the fake's recorded Web API
calls (their arrival clock). Parts:

* answer: ``/incident list`` (reads the database, never Slack) and a P1 declaration, 200
  sequential and 400 at 20 concurrent: p50 / p99 of the HTTP round trip. First a client check:
  GET /healthz and a POST with and without TCP_NODELAY (a 40 ms answer is Nagle + delayed ACK).
* ready: declaration -> first page DM, and -> channel ready (the paged people and the reporter
  invited, the opening message pinned), at 0 ms and 100 ms per Slack call, p50 / max of 10.
  Times run from the moment the request was sent to the moment the fake answered the call.
* storm: 200 declarations in 10 s while conversations.create is held to Slack's Tier 2 (20 per
  window, 429 + Retry-After beyond; ``--tier2-window 60`` is Slack's real minute).
* timer: page jobs seeded through the jobs API, due over the next 20 s: lateness of each DM.
* memory: VmRSS of ``baton serve`` idle and on a database of 10,000 incidents with evidence
  (declared, given evidence and resolved through the services in this process), database size.

The code measured is the working directory's when it holds bot/ and handlers/ (so a worktree of
an older commit can be measured with this script), else this file's repository. The Slack stand-in
always comes from this file's repository.

Run: ``.venv/bin/python bench/speed.py [--only answer,ready,storm,timer,memory]``; see --help.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import math
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent.parent  # this script's repository: the fake Slack
CODE = Path(os.environ.get("BATON_CODE") or Path.cwd()).resolve()
if not ((CODE / "bot").is_dir() and (CODE / "handlers").is_dir()):
    CODE = HERE
sys.path.insert(0, str(CODE))


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load_standin() -> ModuleType:
    """bot.slack.standin from this file's repository, whichever repository bot/ comes from: an
    older commit measured may predate the stand-in, or have another one."""
    import bot.slack  # the parents from the code under test; the stand-in imports nothing of theirs

    path = HERE / "bot" / "slack" / "standin"
    spec = importlib.util.spec_from_file_location(
        "bot.slack.standin", path / "__init__.py", submodule_search_locations=[str(path)]
    )
    assert spec is not None and spec.loader is not None and bot.slack is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bot.slack.standin"] = module
    spec.loader.exec_module(module)
    return module


fakeslack = _load_standin()
signing = _load("bench_slack_signing", HERE / "tests" / "slack_signing.py")
FakeSlack = fakeslack.FakeSlack
Call = fakeslack.Call

import httpx  # noqa: E402
import yaml  # noqa: E402
from sqlalchemy import text as sql  # noqa: E402

import bot  # noqa: E402
from bot.app.runner import boot  # noqa: E402
from bot.config.loader import load_config  # noqa: E402
from bot.incidents import services as incidents  # noqa: E402
from bot.records import evidence  # noqa: E402
from bot.store import jobs  # noqa: E402
from bot.store.db import session  # noqa: E402
from bot.store.runtime import Baton  # noqa: E402
from bot.store.settings import Settings  # noqa: E402

OWNERSHIP = CODE / "ownership.yaml"
SEVERITY = CODE / "severity.yaml"
SECRET = "bench-signing-secret-0123456789abcdef"
REPORTER = "U07LEO0002"  # not in model-quality's RACI: the set-up must invite them
AREA = "model-quality"
BACKLOG_CHANNEL = "C07BACKLOG"
ACK = "incident_ack"
DECLARED = re.compile(r"incident \*?#(\d+)")
CHANNEL = re.compile(r"^inc-\d{8}-(\d+)(?:-|$)")
TIMER_TAG = re.compile(r"bench-timer-(\d+)")
SERVE = (
    "import sys, bot; print('bot from', bot.__file__, flush=True); "
    "from handlers.app import main; sys.exit(main(['serve']))"
)

log = logging.getLogger("bench")


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ============================================================================ figures and table


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    if abs(seconds) >= 10:
        return f"{seconds:,.1f} s"
    return f"{seconds * 1000:,.1f} ms" if abs(seconds) < 0.1 else f"{seconds * 1000:,.0f} ms"


def mb(kb: float) -> str:
    return f"{kb / 1024:,.1f} MB"


@dataclass
class Row:
    part: str
    figure: str
    value: str
    target: str = ""
    met: bool | None = None


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, part: str, figure: str, value: str, target: str = "", met: bool | None = None) -> None:
        self.rows.append(Row(part, figure, value, target, met))

    def render(self) -> str:
        head = ("part", "figure", "value", "target", "met")
        lines = [
            (r.part, r.figure, r.value, r.target, "" if r.met is None else ("yes" if r.met else "NO"))
            for r in self.rows
        ]
        widths = [max(len(x) for x in col) for col in zip(head, *lines, strict=True)]

        def fmt(cells: tuple[str, ...]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        return "\n".join([fmt(head), rule, *(fmt(line) for line in lines)])


def p50_p99(values: list[float]) -> str:
    if not values:
        return "none measured"
    return f"p50 {ms(pct(values, 50))} · p99 {ms(pct(values, 99))} · max {ms(max(values))} (n={len(values)})"


# ============================================================================ machine


def machine() -> list[str]:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        commit = subprocess.run(
            ["git", "-C", str(CODE), "log", "-1", "--format=%h %cs %s"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(CODE), "status", "--porcelain", "--", "bot", "handlers"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit, dirty = "unknown", ""
    return [
        f"machine: {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), {model}; "
        f"Python {platform.python_version()} ({sys.executable}); {platform.system()} {platform.release()}",
        f"code: {CODE} at {commit[:120]}{' + uncommitted changes in bot/ or handlers/' if dirty else ''}",
        f"bench process imports bot from {Path(bot.__file__).parent}",
        f"load average at start: {loadavg()} (other work on the machine shows in every figure)",
    ]


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


# ============================================================================ Baton and the fake


def add_people(fake: Any) -> None:
    """A Slack account in the fake for every person in ownership.yaml (as tests/conftest.py does)."""
    people = (yaml.safe_load(OWNERSHIP.read_text()) or {}).get("people") or {}
    for handle, ref in people.items():
        if "@" in str(ref):
            fake.add_user("U" + handle.upper().replace("-", "")[:8] + "E", handle, email=str(ref))
        else:
            fake.add_user(str(ref), handle)


@contextlib.contextmanager
def fake_slack() -> Iterator[Any]:
    with FakeSlack() as fake:
        add_people(fake)
        fake.add_channel("ai-backlog", channel_id=BACKLOG_CHANNEL)
        yield fake


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


METRICS_TOKEN = "bench-metrics-token"  # /metrics answers only with it


ANNOUNCE_CHANNEL = "C07INCIDENTS"


def announcing(tmp: Path) -> Path:
    """The shipped ownership.yaml with `announce:` set (every P2 and above in #incidents)."""
    path = tmp / "ownership-announce.yaml"
    path.write_text(
        OWNERSHIP.read_text() + f"\nannounce:\n  channel: {ANNOUNCE_CHANNEL}\n  min_severity: P2\n"
    )
    return path


def baton_env(fake: Any, db: Path, port: int, tmp: Path, ownership: Path = OWNERSHIP) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.url,
        "DATABASE_URL": f"sqlite:///{db}",
        "BATON_OWNERSHIP_FILE": str(ownership),
        "BATON_SEVERITY_FILE": str(SEVERITY),
        "BATON_PID_FILE": str(tmp / "baton.pid"),
        "PORT": str(port),
        "BATON_METRICS_TOKEN": METRICS_TOKEN,
    }


class Serve:
    """``baton serve`` of the code under test, as a separate process."""

    def __init__(self, fake: Any, db: Path, tmp: Path, ownership: Path = OWNERSHIP):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"serve-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BATON_", "DATABASE_URL"))}
        env.update(baton_env(fake, db, self.port, tmp, ownership))
        env["PYTHONPATH"] = str(CODE)
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVE], cwd=tmp, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"baton serve exited {self.proc.returncode}:\n{self.log_path.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            self.stop()
            raise SystemExit(f"baton serve did not answer /healthz within 30 s:\n{self.log_path.read_text()}")
        first = self.log_path.read_text().splitlines()[:1]
        self.bot_from = first[0].removeprefix("bot from ").strip() if first else "?"

    def rss_kb(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) in kB from /proc/<pid>/status."""
        values = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
        return values["VmRSS"], values["VmHWM"]

    def settled_rss(self, *, at_least: float = 5.0, budget: float = 20.0) -> tuple[int, int]:
        """VmRSS once it stops moving (two 1 s samples within 1 %), after `at_least` seconds."""
        time.sleep(at_least)
        last = self.rss_kb()
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            time.sleep(1.0)
            now = self.rss_kb()
            if abs(now[0] - last[0]) <= 0.01 * last[0]:
                return now
            last = now
        return last

    def errors(self) -> list[str]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [ln for ln in lines if " ERROR " in ln or "Traceback" in ln]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


def reader(fake: Any, db: Path, tmp: Path) -> Baton:
    """A Baton in this process on the same database: to read incidents and to seed through the
    services and the jobs API (its wake() is a no-op: the serve process's ticker polls)."""
    settings = Settings.from_env(baton_env(fake, db, 0, tmp))
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    return boot(settings, config)


def client(*, nodelay: bool = True, connections: int = 32) -> httpx.Client:
    options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)] if nodelay else []
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.Client(timeout=30, transport=httpx.HTTPTransport(socket_options=options, limits=limits))


@dataclass
class Sent:
    text: str
    sent: float  # monotonic
    answered: float
    status: int
    body: str
    response_url: str = ""
    number: int | None = None

    @property
    def took(self) -> float:
        return self.answered - self.sent


def command(http: httpx.Client, serve: Serve, fake: Any, text: str, *, user: str = REPORTER) -> Sent:
    """A signed /incident; its response_url is the fake's, so a deferred answer is seen too."""
    url = fake.response_url(channel_id="C0GENERAL", user_id=user)
    body = signing.slash_command_body("/incident", text, user_id=user, response_url=url)
    sent = time.monotonic()
    try:
        resp = signing.post_signed(f"{serve.url}/slack/events", body, SECRET, client=http, timeout=30)
        status, out = resp.status_code, resp.text
    except httpx.HTTPError as e:
        status, out = 0, f"{type(e).__name__}: {e}"
    return Sent(text, sent, time.monotonic(), status, out, url)


def number_of(sent: Sent, fake: Any, base: Baton | None, title: str, *, wait: float = 5.0) -> int | None:
    """The declared incident's number: from the answer, else from a response_url post, else
    from the database by its (unique) title."""
    match = DECLARED.search(sent.body)
    deadline = time.monotonic() + wait
    while match is None and time.monotonic() < deadline:
        for post in fake.responses(sent.response_url):
            match = match or DECLARED.search(json.dumps(post.body))
        if match is None:
            time.sleep(0.02)
    if match:
        return int(match.group(1))
    if base is not None:
        with base.engine.connect() as conn:
            found = conn.execute(sql("SELECT id FROM incident WHERE title = :t"), {"t": title}).first()
        return int(found[0]) if found else None
    return None


def calls(fake: Any) -> list[Any]:
    with fake._lock:
        return list(fake.calls)


def wait_quiet(fake: Any, *, quiet: float = 1.0, budget: float = 60.0) -> bool:
    """Until the fake has had no call for `quiet` seconds (bounded)."""
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        with fake._lock:
            last = fake.calls[-1].monotonic if fake.calls else 0.0
        if time.monotonic() - last >= quiet:
            return True
        time.sleep(0.1)
    return False


def blocks_of(call: Any) -> list[Any]:
    blocks = call.params.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return []
    return blocks if isinstance(blocks, list) else []


def page_of(call: Any) -> int | None:
    """The incident a successful page DM (a DM with the Acknowledge button) is for, else None."""
    if call.method != "chat.postMessage" or not call.ok:
        return None
    if str(call.params.get("channel", ""))[:1] not in ("U", "W", "D"):
        return None
    for block in blocks_of(call):
        for el in block.get("elements", []) if isinstance(block, dict) else []:
            if isinstance(el, dict) and el.get("action_id") == ACK and str(el.get("value", "")).isdigit():
                return int(el["value"])
    return None


def reason_of(call: Any) -> str:
    for block in blocks_of(call):
        if isinstance(block, dict) and block.get("type") == "context":
            for el in block.get("elements", []):
                if isinstance(el, dict) and "text" in el:
                    return str(el["text"])
    return ""


def users_of(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(i).strip() for i in items if str(i).strip()]


def channels_by_incident(recorded: list[Any]) -> dict[int, tuple[str, Any]]:
    """incident number -> (channel ID, the successful conversations.create call)."""
    out: dict[int, tuple[str, Any]] = {}
    for c in recorded:
        if c.method == "conversations.create" and c.ok:
            match = CHANNEL.match(str(c.params.get("name", "")))
            if match:
                out.setdefault(int(match.group(1)), (str(c.response["channel"]["id"]), c))
    return out


def ready_at(channel: str, needed: set[str], recorded: list[Any], latency: float) -> float | None:
    """When the channel was ready (monotonic, the fake's answer): everyone in `needed` invited
    (or already in it) and a message pinned; None if it never was."""
    invited: set[str] = set()
    invited_at: float | None = None if needed else 0.0
    pinned_at: float | None = None
    for c in sorted(recorded, key=lambda c: c.monotonic):
        if c.params.get("channel") != channel:
            continue
        if c.method == "conversations.invite" and (c.ok or c.error == "already_in_channel"):
            invited |= set(users_of(c.params.get("users")))
            if invited_at is None and needed <= invited:
                invited_at = c.monotonic + latency
        elif c.method == "pins.add" and c.ok and pinned_at is None:
            pinned_at = c.monotonic + latency
    if invited_at is None or pinned_at is None:
        return None
    return max(invited_at, pinned_at)


def step0_users(base: Baton, number: int) -> set[str]:
    inc = incidents.get(baton=base, number=number)
    first = inc.policy.step(0)
    return {p.user for p in first.notify if p.user} if first is not None else set()


# ============================================================================ parts


def client_check(table: Table, serve: Serve, fake: Any) -> None:
    """Does the client add latency? GET /healthz and POST /incident help, with and without NODELAY."""
    for nodelay in (False, True):
        with client(nodelay=nodelay) as http:
            http.get(f"{serve.url}/healthz")
            gets = []
            for _ in range(50):
                t0 = time.monotonic()
                http.get(f"{serve.url}/healthz")
                gets.append(time.monotonic() - t0)
            posts = [command(http, serve, fake, "help").took for _ in range(50)]
        label = "TCP_NODELAY" if nodelay else "default socket options"
        table.add(
            "client",
            f"GET /healthz x50, keep-alive httpx, {label}",
            p50_p99(gets),
            "< 40 ms (no Nagle stall)",
            pct(gets, 50) < 0.04,
        )
        table.add("client", f"POST /incident help x50, {label}", p50_p99(posts))


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used: unlike a wall-clock figure, it
    hardly moves with other work on the machine."""
    after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(after_name[11]) + int(after_name[12])) / os.sysconf("SC_CLK_TCK")


def answer(table: Table, args: argparse.Namespace, tmp: Path) -> None:
    with fake_slack() as fake:
        serve = Serve(fake, tmp / "answer.db", tmp)
        try:
            say(f"answer: baton serve pid {serve.proc.pid} imports bot from {serve.bot_from}")
            table.notes.append(f"baton serve imports bot from {serve.bot_from}")
            client_check(table, serve, fake)
            with client(connections=args.concurrency + 4) as http:
                for i in range(10):  # a few open incidents for /incident list to show
                    command(http, serve, fake, f"P1 {AREA} Bench answer seed {i}")
                wait_quiet(fake)
                for name, text in (
                    ("/incident help", "help"),
                    ("/incident list", "list"),
                    ("declare P1", f"P1 {AREA} Bench answer"),
                ):
                    for _ in range(3):  # warm up
                        command(http, serve, fake, text)
                    wait_quiet(fake, budget=120)
                    cpu = cpu_seconds(serve.proc.pid)
                    seq = [
                        command(http, serve, fake, f"{text} s{i}" if "P1" in text else text)
                        for i in range(args.sequential)
                    ]
                    wait_quiet(fake, budget=120)
                    cpu = cpu_seconds(serve.proc.pid) - cpu
                    with ThreadPoolExecutor(args.concurrency) as pool:
                        conc = list(
                            pool.map(
                                lambda i, t=text: command(http, serve, fake, f"{t} c{i}" if "P1" in t else t),
                                range(args.concurrent),
                            )
                        )
                    wait_quiet(fake, budget=120)
                    bad = [s for s in seq + conc if s.status != 200]
                    table.add(
                        "answer",
                        f"{name}: CPU of baton serve per request (sequential, with the work it sets off)",
                        f"{cpu * 1000 / args.sequential:.1f} ms",
                    )
                    table.add(
                        "answer",
                        f"{name}: {args.sequential} sequential",
                        p50_p99([s.took for s in seq]),
                        "p99 <= 5 ms",
                        pct([s.took for s in seq], 99) <= 0.005,
                    )
                    table.add(
                        "answer",
                        f"{name}: {args.concurrent} at {args.concurrency} concurrent",
                        p50_p99([s.took for s in conc]),
                        "p99 <= 30 ms",
                        pct([s.took for s in conc], 99) <= 0.030,
                    )
                    if bad:
                        table.notes.append(
                            f"answer {name}: {len(bad)} answers not 200, e.g. "
                            f"{bad[0].status} {bad[0].body[:120]!r}"
                        )
            rss, hwm = serve.settled_rss(at_least=2.0)
            declared = 10 + 3 + args.sequential + args.concurrent
            table.add(
                "memory",
                f"RSS of baton serve after the answer part (~{declared} P1 declared "
                "over HTTP, set up and paged)",
                f"{mb(rss)} (peak {mb(hwm)})",
            )
            errors = serve.errors()
            if errors:
                table.notes.append(f"answer: serve logged {len(errors)} error lines, e.g. {errors[0][:160]}")
        finally:
            serve.stop()


def ready(table: Table, args: argparse.Namespace, tmp: Path) -> None:
    # The last run with an announce channel set: its post and edits must not delay a page.
    for latency, announce in ((0.0, False), (0.1, False), (0.1, True)):
        with fake_slack() as fake:
            db = tmp / f"ready-{int(latency * 1000)}{'-announce' if announce else ''}.db"
            if announce:
                fake.add_channel("incidents", channel_id=ANNOUNCE_CHANNEL)
            serve = Serve(fake, db, tmp, announcing(tmp) if announce else OWNERSHIP)
            base = reader(fake, db, tmp)
            try:
                fake.set_latency("*", latency)
                firsts, readies, missing = [], [], 0
                with client() as http:
                    command(http, serve, fake, "list")  # warm up
                    for i in range(args.ready):
                        title = f"Bench ready {int(latency * 1000)} {i}"
                        sent = command(http, serve, fake, f"P1 {AREA} {title}")
                        number = number_of(sent, fake, base, title)
                        if number is None:
                            missing += 1
                            table.notes.append(
                                f"ready: no incident number for {sent.status} {sent.body[:120]!r}"
                            )
                            continue
                        needed = step0_users(base, number) | {REPORTER}
                        deadline = time.monotonic() + 15
                        first = done = None
                        while time.monotonic() < deadline:
                            recorded = calls(fake)
                            pages = [c.monotonic + latency for c in recorded if page_of(c) == number]
                            first = min(pages) if pages else None
                            made = channels_by_incident(recorded).get(number)
                            done = ready_at(made[0], needed, recorded, latency) if made else None
                            if first is not None and done is not None:
                                break
                            time.sleep(0.05)
                        if first is None or done is None:
                            missing += 1
                            table.notes.append(
                                f"ready: #{number} not paged/ready within 15 s "
                                f"(page {first is not None}, ready {done is not None})"
                            )
                            continue
                        firsts.append(first - sent.sent)
                        readies.append(done - sent.sent)
                        wait_quiet(fake, quiet=0.5 + 2 * latency, budget=10)
                at = f"{latency * 1000:.0f} ms/call" + (", announce channel set" if announce else "")
                n = len(readies)

                def stat(v: list[float], latency: float = latency) -> str:
                    if not v:
                        return "none measured"
                    out = f"p50 {ms(pct(v, 50))} · max {ms(max(v))} (n={len(v)})"
                    if latency:
                        out += f" = {pct(v, 50) / latency:.1f} / {max(v) / latency:.1f} round trips"
                    return out

                if announce:
                    table.add(
                        "ready",
                        f"declared -> first page, {at}",
                        stat(firsts),
                        "<= 1.2 round trips (p50)",
                        bool(firsts) and round(pct(firsts, 50) / latency, 1) <= 1.2,
                    )
                    announced = [c for c in calls(fake) if c.method == "chat.postMessage"]
                    posts = [c for c in announced if c.params.get("channel") == ANNOUNCE_CHANNEL]
                    table.notes.append(
                        f"ready {at}: {len(posts)} announcements posted for {args.ready} declarations"
                    )
                    continue
                table.add("ready", f"declared -> first page, {at}", stat(firsts))
                if latency:
                    table.add(
                        "ready",
                        f"declared -> channel ready, {at}",
                        stat(readies),
                        "<= 4 round trips (p50)",
                        bool(readies) and pct(readies, 50) / latency <= 4.0,
                    )
                else:
                    table.add(
                        "ready",
                        f"declared -> channel ready, {at}",
                        stat(readies),
                        "p50 <= 50 ms",
                        bool(readies) and pct(readies, 50) <= 0.050,
                    )
                if missing or n < args.ready:
                    table.notes.append(f"ready {at}: {missing} of {args.ready} declarations not measured")
            finally:
                base.engine.dispose()
                serve.stop()
    table.notes.append(
        "ready: times run from sending the /incident request to the fake's answer of the call "
        "(arrival + the injected latency); channel ready = the reporter and the step-0 people "
        "invited and the opening message pinned"
    )


def storm(table: Table, args: argparse.Namespace, tmp: Path) -> None:
    n, span, window = args.storm, args.storm_seconds, args.tier2_window
    with fake_slack() as fake:
        db = tmp / "storm.db"
        serve = Serve(fake, db, tmp)
        base = reader(fake, db, tmp)
        try:
            fake.rate_limit("conversations.create", per_minute=20, window=window)
            with client(connections=64) as http:
                command(http, serve, fake, "list")
                fake.reset_calls()
                start = time.monotonic() + 0.2

                def one(i: int) -> tuple[str, Sent]:
                    time.sleep(max(0.0, start + i * span / n - time.monotonic()))
                    title = f"Bench storm {i}"
                    return title, command(http, serve, fake, f"P1 {AREA} {title}")

                with ThreadPoolExecutor(64) as pool:
                    sent = list(pool.map(one, range(n)))
            say(f"storm: {n} sent in {sent[-1][1].sent - start:.1f} s; waiting for channels and pages")
            numbers: dict[int, Sent] = {}
            for title, s in sent:
                number = number_of(s, fake, base, title, wait=1.0)
                if number is not None:
                    numbers[number] = s
            expected = {num: step0_users(base, num) for num in numbers}
            ideal = max(0, math.ceil(n / 20) - 1) * window
            budget = ideal * 2 + 60
            deadline = time.monotonic() + budget
            while time.monotonic() < deadline:
                recorded = calls(fake)
                made = channels_by_incident(recorded)
                paged = {(page_of(c), str(c.params.get("channel"))) for c in recorded if page_of(c)}
                if all(num in made for num in numbers) and all(
                    (num, u) in paged for num, users in expected.items() for u in users
                ):
                    break
                time.sleep(0.25)
            else:
                table.notes.append(f"storm: stopped waiting after {budget:.0f} s; what is missing is counted")
            wait_quiet(fake, quiet=2.0, budget=30)
            recorded = calls(fake)
            made = channels_by_incident(recorded)
            answers = [s.took for _, s in sent]
            late_answers = sum(1 for _, s in sent if s.status != 200 or s.took > 3.0)
            table.add(
                "storm",
                f"{n} declarations in {span:g} s: answer",
                p50_p99(answers),
                "every one <= 3 s",
                late_answers == 0 and len(numbers) == n,
            )
            if len(numbers) != n:
                table.notes.append(f"storm: {n - len(numbers)} declarations got no incident number")
            # DMs per (incident, user, step): only step 0 comes due in the run (P1's T/2 is 30 min).
            dms: Counter[tuple[int, str, str]] = Counter()
            first_dm: dict[tuple[int, str], float] = {}
            for c in recorded:
                num = page_of(c)
                if num is not None:
                    user = str(c.params.get("channel"))
                    dms[(num, user, reason_of(c))] += 1
                    first_dm.setdefault((num, user), c.monotonic)
            want = [(num, u) for num, users in expected.items() for u in users]
            lost = [k for k in want if k not in first_dm]
            doubled = sum(1 for count in dms.values() if count > 1)
            waits = [first_dm[k] - numbers[k[0]].sent for k in want if k in first_dm]
            table.add(
                "storm",
                f"first-wave pages ({len(want)} expected)",
                p50_p99(waits),
                "every one <= 30 s",
                not lost and bool(waits) and max(waits) <= 30.0,
            )
            table.add(
                "storm",
                "first-wave pages lost / doubled (per incident, user, step)",
                f"{len(lost)} lost / {doubled} doubled",
                "0 / 0",
                not lost and doubled == 0,
            )
            creates = [c for c in recorded if c.method == "conversations.create"]
            refused = sum(1 for c in creates if c.http_status == 429)
            if made and all(num in made for num in numbers):
                last = max(made[num][1].monotonic for num in numbers) - start
                value = f"{last:,.1f} s (ideal under the limit {ideal:g} s)"
            else:
                value = f"{sum(1 for num in numbers if num in made)} of {len(numbers)} channels exist"
            table.add(
                "storm", f"until every channel exists (Tier 2 as 20 per {window:g} s window)", value, "", None
            )
            table.add("storm", "conversations.create calls", f"{len(creates)} ({refused} answered 429)")
            errors = serve.errors()
            if errors:
                table.notes.append(f"storm: serve logged {len(errors)} error lines, e.g. {errors[0][:160]}")
        finally:
            base.engine.dispose()
            serve.stop()
    if window != 60:
        table.notes.append(
            f"storm: Slack's Tier 2 (20 a minute) replayed with a {window:g} s window "
            "(same shape, 60/window times faster); --tier2-window 60 is the real minute"
        )


def timer(table: Table, args: argparse.Namespace, tmp: Path) -> None:
    modes = [m for m in ("burst", "sparse") if m in args.timer_modes]
    for pending in args.timer_pending:
        for mode in modes:
            measured = pending if mode == "burst" else min(args.timer_sample, pending)
            with fake_slack() as fake:
                db = tmp / f"timer-{pending}-{mode}.db"
                serve = Serve(fake, db, tmp)
                base = reader(fake, db, tmp)
                try:
                    with client() as http:
                        command(http, serve, fake, "list")
                    # Open incidents to page for: their own step 0 goes now, T/2 is 30 min away.
                    people: list[tuple[int, str, str]] = []
                    for i in range(10):
                        inc = incidents.declare(
                            baton=base, severity="P1", area=AREA, title=f"Bench timer {i}", reporter=REPORTER
                        )
                        assert inc.id is not None
                        people += [
                            (inc.id, p.user, p.ref)
                            for st in inc.policy.steps
                            if st.index == 0
                            for p in st.notify
                            if p.user
                        ]
                    wait_quiet(fake, quiet=1.0, budget=30)
                    now = base.clock.now()
                    first = now + timedelta(seconds=3)
                    due: dict[int, datetime] = {}
                    with session(base.engine) as s:
                        for i in range(pending):
                            if i < measured:
                                at = first + timedelta(seconds=args.timer_spread * i / max(1, measured))
                            else:  # pending, but not due during the run
                                at = now + timedelta(hours=1, seconds=3600 * i / pending)
                            inc_id, user, ref = people[i % len(people)]
                            jobs.enqueue(
                                s,
                                kind="page",
                                incident_id=inc_id,
                                ladder=True,
                                step=1,
                                due_at=at,
                                now=now,
                                payload={"user": user, "ref": ref, "reason": f"bench-timer-{i}"},
                            )
                            if i < measured:
                                due[i] = at
                        s.commit()
                    seeded = (base.clock.now() - now).total_seconds()
                    if seeded > 2.5:
                        table.notes.append(
                            f"timer {pending}: seeding took {seeded:.1f} s, into the first due times"
                        )
                    last_due = max(due.values()).timestamp()
                    deadline = time.monotonic() + (last_due - time.time()) + 30 + measured / 25
                    arrived: dict[int, float] = {}
                    while time.monotonic() < deadline:
                        for c in calls(fake):
                            if page_of(c) is not None:
                                match = TIMER_TAG.search(reason_of(c))
                                if match:
                                    arrived.setdefault(int(match.group(1)), c.wall_time)
                        if len(arrived) >= measured:
                            break
                        time.sleep(0.25)
                    late = [arrived[i] - due[i].timestamp() for i in due if i in arrived]
                    label = (
                        f"{pending:,} pending, all due within {args.timer_spread:g} s "
                        f"({measured / args.timer_spread:,.0f}/s)"
                        if mode == "burst"
                        else f"{pending:,} pending, {measured} of them due within {args.timer_spread:g} s"
                    )
                    value = p50_p99(late)
                    if len(late) < measured:
                        value += f"; {measured - len(late)} never arrived"
                    table.add(
                        "timer",
                        f"lateness: {label}",
                        value,
                        "p99 <= 1 s",
                        len(late) == measured and pct(late, 99) <= 1.0,
                    )
                finally:
                    base.engine.dispose()
                    serve.stop()
    table.notes.append(
        "timer: page jobs enqueued through bot.store.jobs into the database of a running "
        "baton serve; lateness = the DM's arrival at the fake - its due time (wall clock)"
    )


def seed_history(base: Baton, count: int, per: int) -> tuple[float, int]:
    """`count` P1 incidents, each with `per` evidence items, resolved; then every job they left is
    settled through the jobs API as if it had run. Returns (seconds, jobs settled)."""
    t0 = time.monotonic()
    for i in range(count):
        inc = incidents.declare(
            baton=base,
            severity="P1",
            area=AREA,
            title=f"Bench history {i}: hallucination spike",
            reporter=REPORTER,
        )
        assert inc.id is not None
        for k in range(per):
            evidence.add(
                baton=base,
                number=inc.id,
                author=REPORTER,
                text=f"https://grafana.example.com/d/llm?from=now-1h&panel={k}"
                if k == 0
                else f"refusal rate {10 + k}% since 14:0{k} in eu-west-{k} (item {k} of #{inc.id})",
            )
        incidents.resolve(
            baton=base, number=inc.id, summary="Rolled back prompt v42", user=inc.commander or REPORTER
        )
        if (i + 1) % 1000 == 0:
            say(f"memory: seeded {i + 1:,} incidents ({time.monotonic() - t0:.0f} s)")
    settled = 0
    later = base.clock.now() + timedelta(days=1)
    while True:
        claimed = jobs.claim_due(base.engine, worker="bench-seed", now=later, limit=500)
        if not claimed:
            break
        for job in claimed:
            assert job.id is not None
            jobs.finish(base.engine, job.id, worker="bench-seed", now=base.clock.now())
            settled += 1
    return time.monotonic() - t0, settled


def db_size(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())


def memory(table: Table, args: argparse.Namespace, tmp: Path) -> None:
    with fake_slack() as fake:
        serve = Serve(fake, tmp / "idle.db", tmp)
        try:
            rss, hwm = serve.settled_rss()
        finally:
            serve.stop()
        table.add(
            "memory",
            "RSS of baton serve idle (fresh SQLite, settled)",
            f"{mb(rss)} (peak {mb(hwm)})",
            "<= 80 MB",
            rss <= 80 * 1024,
        )

        n, per = args.incidents, args.evidence
        db = tmp / "history.db"
        base = reader(fake, db, tmp)
        try:
            took, settled = seed_history(base, n, per)
        finally:
            base.engine.dispose()
        size, empty = db_size(db), db_size(tmp / "idle.db")
        say(f"memory: seeded {n:,} incidents in {took:.0f} s, {settled:,} jobs settled, {size / 1e6:.1f} MB")
        per_10k = empty + (size - empty) * 10000 / n
        table.add(
            "memory",
            f"SQLite size per 10,000 incidents ({per} evidence items each, resolved)",
            f"{per_10k / 1e6:,.1f} MB (measured {size / 1e6:,.1f} MB for {n:,}; empty {empty / 1e6:,.2f} MB)",
        )
        fake.reset_calls()
        serve = Serve(fake, db, tmp)
        try:
            rss, hwm = serve.settled_rss()
            table.add(
                "memory",
                f"RSS of baton serve started on {n:,} incidents with evidence",
                f"{mb(rss)} (peak {mb(hwm)})",
            )
            with client() as http:
                for _ in range(5):
                    http.get(f"{serve.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
                    command(http, serve, fake, "list")
                    command(http, serve, fake, f"timeline {n // 2}")
                    command(http, serve, fake, f"note {n // 3}")
            rss, hwm = serve.settled_rss(at_least=2.0)
            table.add(
                "memory",
                "... after /metrics, /incident list, timeline and note x5",
                f"{mb(rss)} (peak {mb(hwm)})",
            )
        finally:
            serve.stop()
    table.notes.append(
        f"memory: the {n:,} incidents were declared, given evidence and resolved through "
        "bot.incidents.services / bot.records.evidence in the bench process (no Slack work: "
        "the jobs they left were settled through bot.store.jobs), then baton serve was started"
    )


# ============================================================================ main

PARTS: dict[str, Callable[[Table, argparse.Namespace, Path], None]] = {
    "answer": answer,
    "ready": ready,
    "storm": storm,
    "timer": timer,
    "memory": memory,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--only", default=",".join(PARTS), help="comma-separated parts (default: all): " + ", ".join(PARTS)
    )
    parser.add_argument("--sequential", type=int, default=200, help="answer: sequential requests (200)")
    parser.add_argument("--concurrent", type=int, default=400, help="answer: concurrent requests (400)")
    parser.add_argument("--concurrency", type=int, default=20, help="answer: clients at once (20)")
    parser.add_argument("--ready", type=int, default=10, help="ready: declarations per latency (10)")
    parser.add_argument("--storm", type=int, default=200, help="storm: declarations (200)")
    parser.add_argument("--storm-seconds", type=float, default=10.0, help="storm: spread over (10 s)")
    parser.add_argument(
        "--tier2-window",
        type=float,
        default=6.0,
        help="storm: conversations.create gets 20 calls per this many seconds (6; Slack: 60)",
    )
    parser.add_argument("--timer-pending", default="500,5000", help="timer: pending page jobs (500,5000)")
    parser.add_argument(
        "--timer-modes",
        default="burst,sparse",
        help="timer: burst = all pending due within the spread; sparse = --timer-sample of "
        "them due within it, the rest an hour later (both)",
    )
    parser.add_argument("--timer-sample", type=int, default=200, help="timer: due in the sparse mode (200)")
    parser.add_argument("--timer-spread", type=float, default=20.0, help="timer: due over this many s (20)")
    parser.add_argument(
        "--incidents", type=int, default=2000, help="memory: incidents in history (2000; 10000 takes ~15 min)"
    )
    parser.add_argument("--evidence", type=int, default=3, help="memory: evidence items each (3)")
    parser.add_argument("--verbose", action="store_true", help="log the bench process's Baton")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    args.timer_pending = [int(x) for x in args.timer_pending.split(",") if x.strip()]
    args.timer_modes = [m.strip() for m in args.timer_modes.split(",")]
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.CRITICAL, format="%(levelname)s %(name)s: %(message)s"
    )

    started = time.monotonic()
    table = Table()
    header = machine()
    for line in header:
        say(line)
    with tempfile.TemporaryDirectory(prefix="baton-speed-") as tmpdir:
        for part in parts:
            say(f"{part} ...")
            t0 = time.monotonic()
            PARTS[part](table, args, Path(tmpdir))
            say(f"{part} took {time.monotonic() - t0:.0f} s")
    print("Baton speed (bench/speed.py): " + " ".join(sys.argv[1:]))
    for line in header:
        print(line)
    print(
        f"baton serve on SQLite in a temp dir; FakeSlack in the bench process; reporter {REPORTER}; "
        f"declarations are P1 {AREA} (shipped YAML: T = 1 h, only step 0 comes due)\n"
    )
    print(table.render())
    for note in dict.fromkeys(table.notes):
        print(f"- {note}")
    print(f"\nbench took {time.monotonic() - started:.0f} s; load average at the end: {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
