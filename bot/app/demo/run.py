"""`baton demo`: the real `baton serve` against the Slack stand-in, and a page to use it.

Three parts, all on 127.0.0.1: the stand-in of Slack's Web API (in this process), `baton serve`
(a child process, started as anyone starts it, with an environment made here and nothing of the
user's Slack settings) and the page's server (this process), which signs each request it sends to
Baton as Slack does. Ctrl-C or SIGTERM stops the three.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import secrets
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
import webbrowser
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.app.demo import workspace
from bot.app.demo.page import Demo
from bot.app.demo.server import PageServer
from bot.app.stopping import Stop
from bot.store.clock import TIME_ORIGIN_ENV, TIME_SCALE_ENV

if TYPE_CHECKING:
    from bot.slack.standin import FakeSlack

HOST = "127.0.0.1"
# What of the user's environment `baton serve` may see: how to run Python, nothing of Baton's.
KEPT = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "SYSTEMROOT",
)
# A loaded machine took over 20 s to start `baton serve` on a fresh schema (tests/conftest.py).
START_TIMEOUT = 180.0
# Faster than real time only: at more than 1000x a window's steps come closer together than
# Slack's own calls take, and the page could not show them apart.
MIN_SPEED, MAX_SPEED = 1.0, 1000.0
TMP_PREFIX = "baton-demo-"
OWNER_FILE = "demo.pid"  # in the temporary directory: which process it belongs to
SERVE = "import sys; from handlers.app import main; sys.exit(main(['serve']))"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="baton demo",
        description="Run the real `baton serve` against a local stand-in of Slack and a page at "
        "http://127.0.0.1:PORT/ to use it: no workspace, no token, no network. People, channels and "
        "user groups come from ownership.yaml (BATON_OWNERSHIP_FILE). SLACK_* variables are ignored. "
        "Ctrl-C stops everything.",
    )
    p.add_argument("--port", type=int, default=3000, help="the page's port on 127.0.0.1 (default 3000)")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="N",
        help="run Baton's clock N times faster: with 60, a P1's escalation at T/2 comes after 30 s",
    )
    p.add_argument(
        "--db",
        metavar="URL",
        help="keep Baton's database in this SQLite file, e.g. sqlite:///demo.db (default: a temporary one)",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open the page in a browser")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C before the demo's own handler is in place: nothing to say
        return 130


def _main(argv: Sequence[str] | None) -> int:
    args = parser().parse_args(argv)
    if not MIN_SPEED <= args.speed <= MAX_SPEED:  # NaN fails both
        print(
            f"baton demo: --speed {args.speed:g} is out of range: give {MIN_SPEED:g} to {MAX_SPEED:g} "
            "(60 shows a P1's hour-long window in a minute)",
            file=sys.stderr,
        )
        return 2
    kept: Path | None = None
    if args.db:
        found = _kept_sqlite(args.db)
        if isinstance(found, str):
            print(f"baton demo: {found}", file=sys.stderr)
            return 2
        kept = found
    ignored = sorted(k for k in os.environ if k.startswith("SLACK_"))
    if ignored:
        print(
            f"baton demo: ignoring {', '.join(ignored)}: the demo talks only to its own stand-in of Slack",
            file=sys.stderr,
        )
    ownership = Path(os.environ.get("BATON_OWNERSHIP_FILE") or "ownership.yaml").resolve()
    severity = Path(os.environ.get("BATON_SEVERITY_FILE") or "severity.yaml").resolve()
    for path in (ownership, severity):
        if not path.is_file():
            print(
                f"baton demo: {path} not found: run it where ownership.yaml and severity.yaml are "
                "(the repository's root) or set BATON_OWNERSHIP_FILE and BATON_SEVERITY_FILE",
                file=sys.stderr,
            )
            return 2
    try:
        page = PageServer((HOST, args.port))
    except OSError as e:
        print(
            f"baton demo: cannot listen on {HOST}:{args.port} ({e.strerror}); pick another --port",
            file=sys.stderr,
        )
        return 2
    _sweep_abandoned()
    with tempfile.TemporaryDirectory(prefix=TMP_PREFIX) as tmp:
        (Path(tmp) / OWNER_FILE).write_text(f"{os.getpid()}\n")
        return _run(args, page, ownership, severity, Path(tmp), kept)


def _kept_sqlite(given: str) -> Path | str:
    """The SQLite file --db names (absolute: relative to where the user is), or what is wrong.
    SQLite only: the demo's Baton runs a fast clock and a stand-in of Slack, and on a database
    another Baton uses it would take over that Baton's pages and key its chains."""
    try:
        url = make_url(given)
    except ArgumentError:
        return f"--db {given!r} is not a database URL: give a SQLite file to keep, e.g. sqlite:///demo.db"
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return (
            f"--db takes a SQLite file (e.g. sqlite:///demo.db), not {url.get_backend_name()}: the "
            "demo's Baton, on a fast clock and a stand-in of Slack, must not share a database with "
            "a real Baton"
        )
    return Path(url.database).resolve()


def _chain_key(kept: Path | None) -> str:
    """The chains' key: made for the run, or, for a database kept with --db, kept beside it
    (owner-only), so the next run opens the chains it sealed."""
    if kept is None:
        return secrets.token_hex(32)
    beside = kept.with_name(kept.name + ".chainkey")
    if beside.is_file():
        return beside.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(beside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def _sweep_abandoned() -> None:
    """Temporary directories of demos that were killed outright (SIGKILL runs no clean-up): each
    names the demo's process; one whose process is gone is removed."""
    for owner in Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*/{OWNER_FILE}"):
        try:
            pid = int(owner.read_text())
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(owner.parent, ignore_errors=True)
        except (OSError, ValueError):
            continue  # another user's, or being written: leave it


def _token() -> str:
    """A bot token shaped like Slack's, made for this run (the stand-in accepts only it)."""
    digits = "".join(secrets.choice(string.digits) for _ in range(13))
    letters = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))
    return f"xoxb-{digits[:11]}-{digits}-{letters}"


# baton serve's refusal of a port another program holds (bot/app/server.py check_port), and how
# many ports the demo tries before it gives up.
PORT_TAKEN = "is already in use"
PORT_TRIES = 3


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def serve_env(
    fake: FakeSlack,
    secret: str,
    db_url: str,
    port: int,
    files: tuple[Path, Path],
    tmp: Path,
    speed: float,
    origin: float,
) -> dict[str, str]:
    """`baton serve`'s whole environment: the user's SLACK_* and BATON_* are left out."""
    env = {k: v for k, v in os.environ.items() if k in KEPT}
    env.update(
        {
            "SLACK_API_URL": fake.url,
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_SIGNING_SECRET": secret,
            "DATABASE_URL": db_url,
            "PORT": str(port),
            "HOST": HOST,
            "BATON_OWNERSHIP_FILE": str(files[0]),
            "BATON_SEVERITY_FILE": str(files[1]),
            "BATON_PID_FILE": str(tmp / "baton.pid"),
            TIME_SCALE_ENV: repr(speed),
            TIME_ORIGIN_ENV: repr(origin),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _run(
    args: argparse.Namespace, page: PageServer, ownership: Path, severity: Path, tmp: Path, kept: Path | None
) -> int:
    from bot.slack.standin import FakeSlack  # here: `baton demo --help` needs none of it

    stop = Stop()
    signal.signal(signal.SIGINT, stop.on_signal)
    signal.signal(signal.SIGTERM, stop.on_signal)
    fake = FakeSlack()
    fake.bot_token = _token()
    fake.start()
    child: subprocess.Popen[bytes] | None = None
    try:
        ownership = workspace.with_announce(ownership, tmp)
        people, groups = workspace.seed(fake, ownership, severity)
        secret = secrets.token_hex(32)
        db_url = f"sqlite:///{kept or tmp / 'baton.db'}"
        origin = time.time()
        log_path = tmp / "baton-serve.log"  # start_serve's
        started = start_serve(
            fake,
            secret=secret,
            db_url=db_url,
            files=(ownership, severity),
            tmp=tmp,
            speed=args.speed,
            origin=origin,
            chain_key=_chain_key(kept),
            stop=stop,
        )
        if started is None:
            return 0  # stopped while it started
        if isinstance(started, str):
            _tell_end(started, log_path)
            return 1
        child, baton_url = started
        page.demo = Demo(
            fake, baton_url, secret, people, groups=groups, db_url=db_url, speed=args.speed, origin=origin
        )
        threading.Thread(target=page.serve_forever, name="demo-page", daemon=True).start()
        url = f"http://{HOST}:{page.server_address[1]}/"
        print(f"Baton demo: {url}  (Ctrl-C to stop)", flush=True)
        if not args.no_browser:
            webbrowser.open(url)
        threading.Thread(target=_watch, args=(child, stop), name="demo-watch", daemon=True).start()
        stop.wait()
        if not stop.signalled:
            _tell_end(f"baton serve stopped ({child.returncode})", log_path)
            return 1
        return 0
    finally:
        if child is not None:
            _stop(child)
        page.shutdown_quietly()
        fake.stop()


def start_serve(
    fake: FakeSlack,
    *,
    secret: str,
    db_url: str,
    files: tuple[Path, Path],
    tmp: Path,
    speed: float,
    origin: float,
    chain_key: str,
    stop: Stop,
    ports: Callable[[], int] = _free_port,
) -> tuple[subprocess.Popen[bytes], str] | str | None:
    """`baton serve` for the demo, answering /healthz: (the process, its URL); None when the demo
    was stopped meanwhile; or what went wrong (its log, tmp/baton-serve.log, says why).

    A port found free can be taken before baton serve binds it (another program starting at that
    moment): serve then says so and exits 2, and another port is tried, PORT_TRIES in all."""
    log_path = tmp / "baton-serve.log"  # baton serve's own log: the terminal keeps the demo's lines
    for attempt in range(1, PORT_TRIES + 1):
        port = ports()
        env = serve_env(fake, secret, db_url, port, files, tmp, speed, origin)
        # Keyed chains, as a real deployment should run them (and no warning saying otherwise).
        env["BATON_CHAIN_KEY"] = chain_key
        # A session of its own: Ctrl-C in the terminal reaches the demo only, which stops the
        # child with SIGTERM once (a SIGINT of its own could come in the middle of its start).
        with open(log_path, "wb") as log_file:
            child = subprocess.Popen(
                [sys.executable, "-c", SERVE],
                env=env,
                cwd=tmp,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=_with_parent(),
                start_new_session=True,
            )
        url = f"http://{HOST}:{port}"
        if _wait_healthy(child, url, stop):
            return child, url
        if stop.signalled:
            _stop(child)
            return None
        taken = child.returncode == 2 and PORT_TAKEN in log_path.read_text(errors="replace")
        if taken and attempt < PORT_TRIES:
            continue
        said = f"exited ({child.returncode})" if child.poll() is not None else "did not answer"
        _stop(child)
        return f"baton serve {said} before it was ready"
    raise AssertionError("unreachable: the last try returns")


def _tell_end(what: str, log_path: Path) -> None:
    """`what` happened to baton serve, and the last lines of its log, which say why."""
    print(f"baton demo: {what}; its last lines:", file=sys.stderr)
    for line in log_path.read_text(errors="replace").splitlines()[-5:]:
        print(f"  {line}", file=sys.stderr)


def _with_parent() -> Callable[[], None] | None:
    """On Linux, the child gets SIGTERM when the demo dies, even of a SIGKILL, so no `baton serve`
    outlives it. The C function is looked up before the fork: after it, only a call is made."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig, sigterm = 1, int(signal.SIGTERM)

    def set_deathsig() -> None:
        prctl(pr_set_pdeathsig, sigterm)

    return set_deathsig


def _watch(child: subprocess.Popen[bytes], stop: Stop) -> None:
    """`baton serve` gone on its own ends the demo too."""
    child.wait()
    stop.ended = True


def _wait_healthy(child: subprocess.Popen[bytes], url: str, stop: Stop) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and not stop.is_set():
        if child.poll() is not None:
            return False
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        stop.wait(0.1)
    return False


def _stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as `baton serve` expects (it stops its ticker and server), then SIGKILL if it hangs."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
