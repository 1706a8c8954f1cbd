"""The installed `baton` command, run as a user would run it."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from bot.slack.standin import FakeSlack
from tests.conftest import (
    BATON,
    CHAIN_KEY,
    PG_URL,
    ROOT,
    SHIPPED_OWNERSHIP,
    SIGNING_SECRET,
    add_people,
    clean_env,
    closed_port,
    free_port,
    serve,
    serve_env,
)
from tests.slack.test_slack_check import Lines, add_workspace
from tests.slack_signing import post_signed, slash_command_body

WRONG_TOKEN = "xoxb-1234567890-1234567890123-notTheRealOneNotTheReal1"  # shaped right, refused


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    base = clean_env()
    return subprocess.run(
        [BATON, *args], capture_output=True, text=True, env={**base, **(env or {})}, cwd=cwd, timeout=60
    )


def test_help_lists_the_commands() -> None:
    out = run("--help")
    assert out.returncode == 0
    for command in ("serve", "check", "plan"):
        assert command in out.stdout


def test_check_passes_on_the_shipped_files() -> None:
    out = run("check")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok: ownership.yaml (5 areas")


def test_check_fails_with_file_line_and_path(tmp_path: Path) -> None:
    bad = tmp_path / "ownership.yaml"
    text = SHIPPED_OWNERSHIP.read_text()
    bad.write_text(text.replace("accountable: maya", "accountable: mya", 1))
    assert "accountable: mya" in bad.read_text()
    out = run(
        "check", env={"BATON_OWNERSHIP_FILE": str(bad), "BATON_SEVERITY_FILE": str(ROOT / "severity.yaml")}
    )
    assert out.returncode == 1
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "accountable: mya" in t)
    assert f"{bad}:{line} areas.model-quality.accountable: 'mya'" in out.stderr
    assert "did you mean 'maya'?" in out.stderr


def test_plan_prints_the_ladder_without_slack() -> None:
    out = run("plan", "P1", "model")
    assert out.returncode == 0, out.stderr
    assert "P1" in out.stdout and "model-quality" in out.stdout
    assert "+0s" in out.stdout and "+30m" in out.stdout and "+1h" in out.stdout


def test_plan_rejects_an_unknown_severity_with_the_right_ones() -> None:
    out = run("plan", "P7", "model-quality")
    assert out.returncode == 2 and "P0, P1, P2, P3" in out.stderr


def test_serve_without_a_token_names_the_variable() -> None:
    out = run("serve")
    assert out.returncode == 2
    assert "SLACK_BOT_TOKEN is not set" in out.stderr and "OAuth & Permissions" in out.stderr


def test_serve_with_a_refused_token_says_what_to_do(tmp_path: Path) -> None:
    with FakeSlack() as fake:
        env = serve_env(fake, tmp_path, SLACK_BOT_TOKEN=WRONG_TOKEN)
        out = run("serve", env=env, cwd=tmp_path)
    assert out.returncode == 2
    assert (
        "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in out.stderr and "OAuth & Permissions" in out.stderr
    )
    assert "Traceback" not in out.stderr and WRONG_TOKEN not in out.stderr


def test_serve_without_slack_says_which_url_it_tried(tmp_path: Path) -> None:
    with FakeSlack() as fake, closed_port() as port:
        env = serve_env(fake, tmp_path, SLACK_API_URL=f"http://127.0.0.1:{port}/api/")
        out = run("serve", env=env, cwd=tmp_path)
    # Baton's line alone: slack_sdk logged three ERROR lines before it, one per attempt.
    assert _refused(out) == (
        f"baton: cannot reach Slack's Web API at {env['SLACK_API_URL']} (network: URLError); "
        "check the network, or SLACK_API_URL if you set it."
    )
    assert out.stdout == ""
    assert "Traceback" not in out.stderr


def test_serve_runs_answers_owner_and_reloads_on_sighup(tmp_path: Path) -> None:
    ownership = tmp_path / "ownership.yaml"
    ownership.write_text(SHIPPED_OWNERSHIP.read_text())
    with FakeSlack() as fake:
        add_people(fake, SHIPPED_OWNERSHIP)
        env = serve_env(fake, tmp_path, BATON_OWNERSHIP_FILE=str(ownership))
        proc = serve(env, tmp_path)
        url = f"http://127.0.0.1:{env['PORT']}"
        try:
            owner_infra = slash_command_body("/owner", "infra")
            resp = post_signed(f"{url}/slack/events", owner_infra, SIGNING_SECRET)
            assert resp.status_code == 200 and "Platform Team" in resp.text

            # A bad edit is refused and the running config stays.
            ownership.write_text(SHIPPED_OWNERSHIP.read_text() + "\nunknown_key: 1\n")
            assert run("reload", env=env, cwd=tmp_path).returncode == 1
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.5)
            resp = post_signed(f"{url}/slack/events", owner_infra, SIGNING_SECRET)
            assert "Platform Team" in resp.text

            # A good edit is picked up by `baton reload` (SIGHUP through the pid file).
            ownership.write_text(SHIPPED_OWNERSHIP.read_text().replace("Platform Team", "Platform Crew"))
            out = run("reload", env=env, cwd=tmp_path)
            assert out.returncode == 0, out.stderr
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                resp = post_signed(
                    f"{url}/slack/events", slash_command_body("/owner", "infra"), SIGNING_SECRET
                )
                if "Platform Crew" in resp.text:
                    break
                time.sleep(0.1)
            assert "Platform Crew" in resp.text
        finally:
            proc.send_signal(signal.SIGTERM)
            output = proc.communicate(timeout=15)[0]
        assert proc.returncode == 0, output
        assert fake.bot_token not in output and SIGNING_SECRET not in output  # no secret is ever logged


# -- clean failures: one line saying what to do, exit status 2, no traceback --------------------


def _refused(out: subprocess.CompletedProcess[str]) -> str:
    """The one line `baton serve` printed, after checking it stopped cleanly with status 2."""
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ({"status": 0, "times": 10}, "baton: cannot reach Slack's Web API at "),
        (
            {"status": 200, "error": "account_inactive"},
            "baton: Slack refused SLACK_BOT_TOKEN (account_inactive)",
        ),
    ],
    ids=["gone", "refused"],
)
def test_slack_failing_bolts_own_token_check_is_one_line_too(
    tmp_path: Path, fault: dict[str, Any], said: str
) -> None:
    """Bolt asks auth.test again as the app is built, after Baton's check passed: Slack gone or
    refusing in between is the same one line, not a traceback."""
    with FakeSlack() as fake:
        asked = iter(range(100))
        fake.inject("auth.test", when=lambda _params: next(asked) > 0, **fault)
        out = run("serve", env=serve_env(fake, tmp_path), cwd=tmp_path)
        assert len(fake.calls_to("auth.test")) >= 2  # Baton's check passed; Bolt's did not
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    # Start-up's warnings (e-mails not found, chains not keyed) come first; the refusal ends it.
    assert out.stderr.splitlines()[-1].startswith(said), out.stderr


def test_serve_with_the_readmes_placeholder_token_says_what_to_do(tmp_path: Path) -> None:
    with FakeSlack() as fake:
        env = serve_env(fake, tmp_path, SLACK_BOT_TOKEN="xoxb-…")
        line = _refused(run("serve", env=env, cwd=tmp_path))
        assert fake.calls == []  # refused before any request could carry it
    assert line.startswith("baton: SLACK_BOT_TOKEN contains '…' (U+2026), which no Slack credential has")
    assert "OAuth & Permissions" in line


# The README's own commands, and other values that are examples rather than credentials.
README_HTTP = {"SLACK_BOT_TOKEN": "xoxb-your-bot-token", "SLACK_SIGNING_SECRET": "your-signing-secret"}
README_SOCKET = {"SLACK_BOT_TOKEN": "xoxb-your-bot-token", "SLACK_APP_TOKEN": "xapp-your-app-token"}
REAL_LOOKING = {
    "SLACK_BOT_TOKEN": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
}


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (README_HTTP, "baton: SLACK_BOT_TOKEN is still an example value (it has the word 'your'"),
        (README_SOCKET, "baton: SLACK_BOT_TOKEN is still an example value (it has the word 'your'"),
        (
            {**README_HTTP, **{"SLACK_BOT_TOKEN": "xoxb-..."}},
            "baton: SLACK_BOT_TOKEN is still an example value",
        ),
        ({**REAL_LOOKING, "SLACK_BOT_TOKEN": "xoxb-1234"}, "baton: SLACK_BOT_TOKEN is 9 characters, shorter"),
        (
            {**REAL_LOOKING, "SLACK_SIGNING_SECRET": "changeme"},
            "baton: SLACK_SIGNING_SECRET is still an example value (it has the word 'changeme'",
        ),
        (
            {**REAL_LOOKING, "SLACK_SIGNING_SECRET": "<your-signing-secret>"},
            "baton: SLACK_SIGNING_SECRET is a variable or template that was never filled in",
        ),
        (
            {**REAL_LOOKING, "SLACK_APP_TOKEN": "xapp-your-app-token"},
            "baton: SLACK_APP_TOKEN is still an example value (it has the word 'your'",
        ),
        (
            {**REAL_LOOKING, "BATON_ALERT_TOKEN": "changeme"},
            "baton: BATON_ALERT_TOKEN is still an example value (it has the word 'changeme'",
        ),
        (
            {**REAL_LOOKING, "BATON_FEEDBACK_TOKEN": "${FEEDBACK_TOKEN}"},
            "baton: BATON_FEEDBACK_TOKEN is a variable or template that was never filled in",
        ),
        ({**REAL_LOOKING, "BATON_FEEDBACK_TOKEN": "abc123"}, "baton: BATON_FEEDBACK_TOKEN is 6 characters"),
        (
            {**REAL_LOOKING, "BATON_METRICS_TOKEN": "your-metrics-token"},
            "baton: BATON_METRICS_TOKEN is still an example value (it has the word 'your'",
        ),
    ],
)
def test_serve_with_a_placeholder_says_so_in_one_line_before_any_network_call(
    tmp_path: Path, env: dict[str, str], line: str
) -> None:
    # Slack at a port nothing listens on: any request would fail and be logged.
    with closed_port() as port:
        closed = f"http://127.0.0.1:{port}/api/"
        out = run("serve", env={**env, "SLACK_API_URL": closed, "PORT": str(free_port())}, cwd=tmp_path)
    said = _refused(out)
    assert said.startswith(line), said
    assert out.stdout == ""
    for value in env.values():
        assert len(value) < 12 or value not in said  # never echoed (a short one may be the word named)


def test_check_and_nudge_refuse_the_readmes_token_in_one_line(tmp_path: Path) -> None:
    with closed_port() as port:
        env = {**README_HTTP, "SLACK_API_URL": f"http://127.0.0.1:{port}/api/"}
        for args in (("check", "--slack"), ("nudge", "review")):
            out = run(*args, env=env)
            said = _refused(out)
            assert said.startswith(
                "baton: SLACK_BOT_TOKEN is still an example value (it has the word 'your'"
            ), args
            assert out.stdout == "", args  # no "ok" first


def test_serve_with_a_non_ascii_signing_secret_says_which_variable(tmp_path: Path) -> None:
    with FakeSlack() as fake:
        env = serve_env(fake, tmp_path, SLACK_SIGNING_SECRET="s3cret\u00a0pasted")
    line = _refused(run("serve", env=env, cwd=tmp_path))
    assert "SLACK_SIGNING_SECRET contains '\\xa0' (U+00A0)" in line and "Basic Information" in line
    assert "s3cret" not in line


def test_serve_on_a_port_in_use_says_so(tmp_path: Path) -> None:
    with socket.socket() as taken, FakeSlack() as fake:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run("serve", env=serve_env(fake, tmp_path, PORT=str(port)), cwd=tmp_path)
        assert fake.calls == []  # refused before Slack (or the database) was touched
    line = _refused(out)
    assert line == (
        f"baton: port {port} is already in use (another baton serve?): stop what listens there, "
        "or set PORT to a free port."
    )


def test_serve_with_an_unwritable_sqlite_path_says_what_to_do(tmp_path: Path) -> None:
    # /proc/self takes no new files, whoever runs the tests (root included).
    with FakeSlack() as fake:
        env = serve_env(fake, tmp_path, DATABASE_URL="sqlite:////proc/self/baton.db")
        line = _refused(run("serve", env=env, cwd=tmp_path))
    assert line.startswith("baton: cannot open the SQLite database /proc/self/baton.db")
    assert "directory must exist and be writable" in line and "DATABASE_URL" in line


def test_serve_with_a_database_url_that_is_not_one(tmp_path: Path) -> None:
    with FakeSlack() as fake:
        env = serve_env(fake, tmp_path, DATABASE_URL="baton.db")
        line = _refused(run("serve", env=env, cwd=tmp_path))
    assert line.startswith("baton: DATABASE_URL is not a database Baton can use: set it to sqlite:///")


def test_serve_with_postgres_not_listening_says_so_without_the_password(tmp_path: Path) -> None:
    with FakeSlack() as fake, closed_port() as port:
        url = f"postgresql://baton:hunter2@127.0.0.1:{port}/baton"
        line = _refused(run("serve", env=serve_env(fake, tmp_path, DATABASE_URL=url), cwd=tmp_path))
    assert line.startswith("baton: cannot connect to the database at 127.0.0.1:")
    assert "connection refused" in line and "is PostgreSQL running there?" in line
    assert "hunter2" not in line and "baton:***@" in line


def _postgres_or_skip() -> None:
    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            pass
    except psycopg.Error as e:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} ({type(e).__name__})")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"username": "baton_no_such_role", "password": "hunter2"}, "refused to log in 'baton_no_such_role'"),
        ({"database": "baton_no_such_db"}, "has no database 'baton_no_such_db'"),
    ],
)
def test_serve_refused_by_postgres_says_what_to_fix(
    tmp_path: Path, change: dict[str, str], expected: str
) -> None:
    _postgres_or_skip()
    url = make_url(PG_URL).set(**change).render_as_string(hide_password=False)
    with FakeSlack() as fake:
        line = _refused(run("serve", env=serve_env(fake, tmp_path, DATABASE_URL=url), cwd=tmp_path))
    assert expected in line and "DATABASE_URL" in line
    assert "hunter2" not in line


def test_a_healthy_start_logs_no_warning(tmp_path: Path) -> None:
    with FakeSlack() as fake:
        add_people(fake, SHIPPED_OWNERSHIP)
        fake.add_channel("ai-backlog", channel_id="C07BACKLOG")
        add_workspace(fake)
        # With a chain key: without one the start-up says the chains are unkeyed
        # (tests/records/test_chain_key.py).
        out = Lines(serve(serve_env(fake, tmp_path, BATON_CHAIN_KEY=CHAIN_KEY), tmp_path))
        try:
            fake.wait_for(lambda: out.having("against Slack: no problems"), timeout=30)
        finally:
            lines = out.stop()
    assert out.proc.returncode == 0
    assert lines and not [line for line in lines if " WARNING " in line or " ERROR " in line], lines
    assert not any("Traceback" in line for line in lines)


def test_the_start_up_log_names_each_nudges_first_run_in_the_future(tmp_path: Path) -> None:
    """It said "its next run is after <a time already past>": the time a first start skips."""
    import re
    from datetime import UTC, datetime

    with FakeSlack() as fake:
        add_people(fake, SHIPPED_OWNERSHIP)
        started = datetime.now(UTC)
        out = Lines(serve(serve_env(fake, tmp_path), tmp_path))
        try:
            fake.wait_for(lambda: len(out.having("nudge handoffs scheduled")) == 1, timeout=30)
        finally:
            lines = out.stop()
    said = [line for line in lines if " scheduled (" in line]
    names = [re.search(r"nudge (\S+) scheduled", line)[1] for line in said]  # type: ignore[index]
    assert sorted(names) == ["failure_review", "handoffs", "readiness", "slo_digest"], said
    for line in said:
        found = re.search(r": its first run is at (\S+) \(a first start skips the one due at (\S+)\)$", line)
        assert found is not None, line
        first, skipped = (datetime.fromisoformat(t) for t in found.groups())
        assert skipped <= started < first, line


# -- baton plan --at: the ladder at a moment -----------------------------------------


def _plan_at(at: str, ownership: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run(
        "plan",
        "P1",
        "model-quality",
        "--at",
        at,
        env={
            "BATON_OWNERSHIP_FILE": str(ownership),
            "BATON_SEVERITY_FILE": str(ROOT / "severity.yaml"),
            **env,
        },
        cwd=cwd,
    )


def test_plan_at_a_moment_names_the_on_call_of_a_weekly_rotation_then(tmp_path: Path) -> None:
    from tests.oncall.test_oncall_overrides import rotating_ownership

    ownership = rotating_ownership(tmp_path)
    out = _plan_at("2026-12-07T09:30", ownership, tmp_path)  # wall time in Europe/London: li's week
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "At Mon 2026-12-07 09:30 GMT (Europe/London):"
    assert (
        lines[2] == "R ml (ML Team), on-call li (rotation; until Mon 2026-12-14 09:00 GMT, then omar), A maya"
    )
    assert lines[3].split()[:4] == ["+0s", "page", "owning-team", "li"]  # the on-call paged first
    before = _plan_at("2026-12-07T08:30", ownership, tmp_path).stdout.splitlines()
    assert before[2].startswith("R ml (ML Team), on-call maya (rotation; until Mon 2026-12-07 09:00 GMT")
    # With an offset: 09:30 in Paris is 08:30 in London, still maya's week; a week later, omar's.
    assert _plan_at("2026-12-07T09:30+01:00", ownership, tmp_path).stdout.splitlines()[2] == before[2]
    later = _plan_at("2026-12-14T09:30Z", ownership, tmp_path).stdout.splitlines()
    assert (
        later[0] == "At Mon 2026-12-14 09:30 GMT (Europe/London):" and "on-call omar (rotation;" in later[2]
    )
    now = _plan_at("now", ownership, tmp_path)
    assert now.returncode == 0 and now.stdout.startswith("At ") and "on-call " in now.stdout


def test_plan_at_a_moment_counts_the_overrides_added_in_slack(tmp_path: Path, db_url: str) -> None:
    from datetime import UTC, datetime

    from bot.store.db import make_engine, session, upgrade
    from bot.store.models import OncallOverride
    from tests.oncall.test_oncall_overrides import MAYA, rotating_ownership

    engine = make_engine(db_url)
    upgrade(engine)
    start, end = datetime(2026, 12, 7, 9, 0, tzinfo=UTC), datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
    with session(engine) as s:
        s.add(
            OncallOverride(
                team="ml", who="sam", starts_at=start, ends_at=end, created_by=MAYA, created_at=start
            )
        )
        s.commit()
    engine.dispose()
    ownership = rotating_ownership(tmp_path)
    during = _plan_at("2026-12-07T10:00", ownership, tmp_path, DATABASE_URL=db_url)
    assert during.returncode == 0, during.stderr
    line = during.stdout.splitlines()[2]
    assert (
        line == "R ml (ML Team), on-call sam (override #1; until Mon 2026-12-07 13:00 GMT, then li), A maya"
    )
    after = _plan_at("2026-12-07T13:00", ownership, tmp_path, DATABASE_URL=db_url).stdout.splitlines()[2]
    assert after.startswith("R ml (ML Team), on-call li (rotation;")


def test_plan_at_something_that_is_not_a_moment_says_what_is(tmp_path: Path) -> None:
    out = run("plan", "P1", "model-quality", "--at", "banana", cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.splitlines() == [
        "baton: --at 'banana' is not a date and time; use now, 2026-12-07T09:30 (in nudges.timezone) "
        "or with an offset, 2026-12-07T09:30+01:00"
    ]


# -- commands that only read work on a read-only filesystem ---------------------------------------


def _read_only_mounts() -> bool:
    """Whether this machine lets a test bind-mount a directory read-only in a mount namespace."""
    try:
        probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def run_read_only(directory: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`baton <args>` with `directory` mounted read-only over itself (chmod does not stop root:
    a read-only mount stops everyone, as a backup volume or a container's read-only volume does)."""
    script = 'mount --bind -o ro "$0" "$0" && touch "$0/probe" 2>/dev/null && exit 99; exec "$@"'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, str(directory), BATON, *args],
        capture_output=True,
        text=True,
        env={**clean_env(), **env},
        cwd=ROOT,
        timeout=60,
    )


@pytest.mark.skipif(not _read_only_mounts(), reason="needs unshare -m (a mount namespace) to mount read-only")
def test_verify_and_export_read_a_database_on_a_read_only_filesystem(tmp_path: Path) -> None:
    from tests.conftest import start_baton

    directory = tmp_path / "backup"
    directory.mkdir()
    url = f"sqlite:///{directory / 'baton.db'}"
    with FakeSlack() as fake:
        add_people(fake, SHIPPED_OWNERSHIP)
        rb = start_baton(fake, url)
        try:
            answer = rb.command("/incident", "P2 model-quality Refusals up", user_id="U07LEO0002")
            assert "Declared" in answer.text
        finally:
            rb.stop()
    # Closed cleanly: SQLite checkpointed its log and removed it, as after `baton serve` stops.
    assert sorted(p.name for p in directory.iterdir()) == ["baton.db"]

    verified = run_read_only(directory, "verify", env={"DATABASE_URL": url})
    assert verified.returncode != 99, "the mount was not read-only"
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("ok: "), verified.stdout
    exported = run_read_only(directory, "export", "1", env={"DATABASE_URL": url})
    assert exported.returncode == 0, exported.stderr
    assert "Refusals up" in exported.stdout
    assert sorted(p.name for p in directory.iterdir()) == ["baton.db"]  # nothing written beside it


@pytest.mark.skipif(not _read_only_mounts(), reason="needs unshare -m (a mount namespace) to mount read-only")
def test_a_read_only_database_with_an_unfinished_log_says_what_to_do(tmp_path: Path) -> None:
    import shutil
    import sqlite3

    from bot.app.runner import open_database

    live, directory = tmp_path / "live", tmp_path / "backup"
    live.mkdir()
    directory.mkdir()
    engine = open_database(f"sqlite:///{live / 'baton.db'}")
    engine.dispose()
    # A copy taken while Baton was writing: commits still in the write-ahead log, no index.
    writer = sqlite3.connect(live / "baton.db")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE late (x)")
    writer.commit()
    for name in ("baton.db", "baton.db-wal"):
        shutil.copy(live / name, directory / name)
    writer.close()
    url = f"sqlite:///{directory / 'baton.db'}"
    out = run_read_only(directory, "verify", env={"DATABASE_URL": url})
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.strip() == (
        f"baton: {directory / 'baton.db'} is on a read-only filesystem and its write-ahead log "
        "baton.db-wal holds changes not yet in the file, which SQLite can only read with a writable "
        "directory: copy baton.db and baton.db-wal somewhere writable and point DATABASE_URL there."
    )


# -- every command: its --help, and its output piped into a reader that stops ------------------


def _commands() -> list[str]:
    """The commands `baton --help` lists."""
    import re

    listed = run("--help").stdout.split("COMMAND\n", 2)[-1].split("\n\n")[0]
    return re.findall(r"(?m)^    (\w+) ", listed)


def test_every_command_has_help_beyond_its_usage() -> None:
    commands = _commands()
    assert {"serve", "check", "plan", "reload", "verify", "seal", "export", "nudge"} <= set(commands)
    for command in commands:
        out = run(command, "--help")
        assert out.returncode == 0, (command, out.stderr)
        usage, _, rest = out.stdout.partition("\n\n")
        assert usage.startswith(f"usage: baton {command}"), out.stdout
        described = rest.split("\n\n")[0]
        assert not described.startswith(("options:", "positional arguments:")), (command, out.stdout)
        assert len(described.split()) >= 25, (command, described)  # what it does, reads, exits with


def _into_a_closed_pipe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`baton <args> | head -0`, deterministically: the reader is gone before the first write."""
    import os

    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [BATON, *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env={**clean_env(), **(env or {})},
            cwd=ROOT,
            timeout=60,
        )
    finally:
        os.close(write)


def test_every_command_piped_into_a_reader_that_stops_ends_quietly(tmp_path: Path) -> None:
    from tests.conftest import start_baton
    from tests.slack.test_slack_check import add_workspace

    url = f"sqlite:///{tmp_path / 'baton.db'}"
    with FakeSlack() as fake:
        add_people(fake, SHIPPED_OWNERSHIP)
        fake.add_channel("ai-backlog", channel_id="C07BACKLOG")
        add_workspace(fake)
        rb = start_baton(fake, url)
        try:
            assert (
                "Declared"
                in rb.command("/incident", "P2 model-quality Refusals up", user_id="U07LEO0002").text
            )
        finally:
            rb.stop()
        env = {"DATABASE_URL": url, "SLACK_BOT_TOKEN": fake.bot_token, "SLACK_API_URL": fake.url}
        runs = [
            ("--help",),
            *((command, "--help") for command in _commands()),
            ("check",),
            ("check", "--slack"),
            ("plan", "P1", "model-quality"),
            ("verify",),
            ("export", "1"),
            ("export", "1", "--json"),
            ("nudge", "review"),
        ]
        for args in runs:
            out = _into_a_closed_pipe(*args, env=env)
            assert out.stderr == "", (args, out.stderr)  # no BrokenPipeError, no "Exception ignored"
            assert out.returncode == 0, args
