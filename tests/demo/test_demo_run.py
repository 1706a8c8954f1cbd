"""`baton demo` as a process: its URL line, its page, a page reaching Baton, its guards, its end."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import BATON, ROOT, clean_env, free_port
from tests.demo.conftest import DemoRun, gone, start_demo

SAM, MAYA, LI, OMAR = "U07SAM0001", "U07MAYA001", "ULIE", "U07OMAR001"


def wait(check, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    """Poll until `check` returns something; the timeout only stops a hang (a loaded 2-core
    machine is slow to start and to settle, and each wait ends as soon as it holds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("not seen in time")


def test_the_page_declares_through_baton_and_the_stand_in_shows_the_channel_and_pages(demo: DemoRun) -> None:
    page = httpx.get(demo.url, timeout=10)
    assert page.status_code == 200 and "Baton" in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert httpx.get(f"{demo.url}static/demo.js", timeout=10).status_code == 200
    out = demo.api(
        "/api/command",
        {"user": SAM, "text": "/incident P1 model-quality Answers are wrong", "channel": "C0GENERAL"},
    )
    assert out.status_code == 200 and out.json()["status"] == 200, out.text
    assert "Declared" in out.json()["reply"]["text"]

    def channel_and_pages():  # type: ignore[no-untyped-def]
        s = demo.state()
        # The channel, with Baton's opening message in it.
        inc = [c for c in s["channels"] if c["name"].startswith("inc-") and c["messages"]]  # type: ignore[union-attr]
        dms = s["dms"]
        paged = [u for u in (MAYA, LI, OMAR) if u in dms and dms[u]["messages"]]  # type: ignore[index,operator]
        return (inc, paged) if inc and len(paged) == 3 else None

    channels, _ = wait(channel_and_pages)
    assert "Answers are wrong" in str(channels[0]["messages"])
    incident = demo.state()["incidents"][0]  # type: ignore[index]
    assert incident["severity"] == "P1" and [s["kind"] for s in incident["steps"]][-1] == "breach"

    # The same state again: the ETag says nothing changed (the ladder may still move between two
    # reads at --speed 180, so a few tries).
    def unchanged() -> bool:
        first = httpx.get(f"{demo.url}state", timeout=10)
        again = httpx.get(f"{demo.url}state", headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
        return again.status_code == 304 and again.content == b""

    wait(unchanged)


def test_the_api_refuses_another_site_and_another_host_name(demo: DemoRun) -> None:
    body = {"user": SAM, "text": "/incident P1 model-quality x", "channel": "C0GENERAL"}
    evil = httpx.post(
        f"{demo.url}api/command", json=body, headers={"Origin": "http://evil.example"}, timeout=10
    )
    assert evil.status_code == 403
    no_origin = httpx.post(f"{demo.url}api/command", json=body, timeout=10)
    assert no_origin.status_code == 403
    form = httpx.post(
        f"{demo.url}api/command", content=b"user=x", headers={"Origin": demo.url.rstrip("/")}, timeout=10
    )
    assert form.status_code == 415
    rebound = httpx.get(demo.url, headers={"Host": f"attacker.example:{demo.port}"}, timeout=10)
    assert rebound.status_code == 403
    # A length that is not a number is refused, not a traceback on the demo's terminal.
    conn = http.client.HTTPConnection("127.0.0.1", demo.port, timeout=10)
    conn.putrequest("POST", "/api/command", skip_host=True)
    for name, value in (
        ("Host", f"127.0.0.1:{demo.port}"),
        ("Origin", demo.url.rstrip("/")),
        ("Content-Type", "application/json"),
        ("Content-Length", "abc"),
    ):
        conn.putheader(name, value)
    conn.endheaders()
    assert conn.getresponse().status == 400
    conn.close()
    assert httpx.get(f"{demo.url}favicon.ico", timeout=10).status_code == 204  # no 404 in the console
    assert demo.state()["incidents"] == []
    assert not any("Traceback" in line for line in demo.out), "".join(demo.out)


def test_slack_variables_are_ignored_and_said_in_one_line() -> None:
    run = start_demo(
        env={"SLACK_BOT_TOKEN": "xoxb-real-looking-0000", "SLACK_API_URL": "https://slack.com/api/"}
    )
    try:
        line = run.line_with("ignoring")
        assert "SLACK_API_URL" in line and "SLACK_BOT_TOKEN" in line and "xoxb" not in line
        run.url = run.line_with("Baton demo: http").split()[2]
    finally:
        assert run.stop() == 0


def test_a_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = subprocess.run(
            [BATON, "demo", "--no-browser", "--port", str(port)],
            env=clean_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and str(port) in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_ctrl_c_leaves_no_process() -> None:
    run = start_demo()
    run.url = run.line_with("Baton demo: http").split()[2]
    children = run.child_pids()
    assert children, "baton serve runs as a child process"
    assert run.stop() == 0
    assert all(gone(pid) for pid in children)
    assert not any("Traceback" in line for line in run.out), "".join(run.out)


def test_sigterm_stops_it_too() -> None:
    run = start_demo()
    run.url = run.line_with("Baton demo: http").split()[2]
    children = run.child_pids()
    run.proc.terminate()
    assert run.proc.wait(timeout=60) == 0
    assert children and all(gone(pid) for pid in children)


def test_a_demo_killed_outright_takes_baton_serve_with_it_and_the_next_sweeps_its_files() -> None:
    run = start_demo()
    run.url = run.line_with("Baton demo: http").split()[2]
    children = run.child_pids()
    left = Path(os.readlink(f"/proc/{children[0]}/cwd"))  # baton serve runs in the temporary directory
    run.proc.kill()  # SIGKILL: no handler runs; the kernel tells the child (PR_SET_PDEATHSIG)
    run.proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while not all(gone(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert children and all(gone(pid) for pid in children)
    assert (left / "baton.db").exists()  # nothing ran to remove it
    following = start_demo()
    try:
        following.line_with("Baton demo: http")
        assert not left.exists(), "the next demo removes the directory of one that is gone"
    finally:
        assert following.stop() == 0


def test_serve_never_loads_the_demo() -> None:
    code = (
        "import sys, handlers.app, bot.app.cli, bot.app.runner, bot.app.server;"
        "sys.exit(any(m.startswith('bot.app.demo') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60).returncode == 0


def test_db_keeps_the_database_for_the_next_run_and_the_page_reads_its_steps(tmp_path) -> None:  # type: ignore[no-untyped-def]
    kept = tmp_path / "demo.db"
    declare_with_db(f"sqlite:///{kept}", "Index is stale")
    assert kept.exists(), "--db names a database that outlives the demo"
    key = tmp_path / "demo.db.chainkey"
    assert key.is_file() and key.stat().st_mode & 0o777 == 0o600  # the chains' key, owner-only
    # The next run opens the chains the first sealed (a new key would be refused) and goes on.
    found = declare_with_db(f"sqlite:///{kept}", "Index is stale again")
    assert {i["title"] for i in found} >= {"Index is stale", "Index is stale again"}


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["--db", "postgresql://baton@127.0.0.1:5432/baton"],
            "--db takes a SQLite file (e.g. sqlite:///demo.db), not postgresql",
        ),
        (["--db", "notaurl"], "--db 'notaurl' is not a database URL"),
        (["--speed", "0.5"], "--speed 0.5 is out of range: give 1 to 1000"),
        (["--speed", "nan"], "--speed nan is out of range"),
        (["--speed", "5000"], "--speed 5000 is out of range"),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_2(args: list[str], said: str) -> None:
    done = subprocess.run(
        [BATON, "demo", "--no-browser", "--port", str(free_port()), *args],
        env=clean_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"baton demo: {said}"), line


def declare_with_db(url: str, title: str) -> list[dict[str, object]]:
    """Run the demo on `url`, declare `title`, and return the incidents the page shows."""
    run = start_demo(["--db", url])
    run.url = run.line_with("Baton demo: http").split()[2]
    try:
        text = f"/incident P2 data {title}"
        assert run.api("/api/command", {"user": SAM, "text": text}).json()["status"] == 200
        found = wait(lambda: [i for i in run.state()["incidents"] if i["title"] == title])  # type: ignore[union-attr,index]
        assert found[0]["steps"], "the ladder's steps, read from the database given"
        return list(run.state()["incidents"])  # type: ignore[arg-type]
    finally:
        assert run.stop() == 0


def test_a_port_taken_before_serve_binds_it_is_given_up_for_another(tmp_path: Path) -> None:
    """The demo found a port free, but another program took it before `baton serve` bound it:
    serve says so and exits 2, and the demo starts it on another port. The first port is really
    held (a listening socket); the ports come from the test instead of the kernel."""
    import secrets
    import socket

    from bot.app.demo import run, workspace
    from bot.app.stopping import Stop
    from bot.slack.standin import FakeSlack
    from tests.conftest import SHIPPED_OWNERSHIP, SHIPPED_SEVERITY

    with socket.socket() as taken, FakeSlack() as fake:
        taken.bind((run.HOST, 0))
        taken.listen()
        offered = [int(taken.getsockname()[1]), free_port()]
        second = offered[1]
        workspace.seed(fake, SHIPPED_OWNERSHIP, SHIPPED_SEVERITY)
        started = run.start_serve(
            fake,
            secret=secrets.token_hex(32),
            db_url=f"sqlite:///{tmp_path / 'baton.db'}",
            files=(SHIPPED_OWNERSHIP, SHIPPED_SEVERITY),
            tmp=tmp_path,
            speed=1.0,
            origin=time.time(),
            chain_key=secrets.token_hex(32),
            stop=Stop(),
            ports=lambda: offered.pop(0),
        )
        assert not isinstance(started, str) and started is not None, started
        child, url = started
        try:
            # Both offered: the first refused as taken (anything else would have ended the start).
            assert offered == [] and url == f"http://{run.HOST}:{second}"
            assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        finally:
            run._stop(child)
