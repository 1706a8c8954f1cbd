"""The installed `baton` command, run as a user would run it."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import (
    BATON,
    ROOT,
    SHIPPED_OWNERSHIP,
    SIGNING_SECRET,
    add_people,
    clean_env,
    free_port,
    serve,
    serve_env,
)
from tests.fakeslack import FakeSlack
from tests.slack_signing import post_signed, slash_command_body


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
        env = serve_env(fake, tmp_path, SLACK_BOT_TOKEN="xoxb-not-the-real-one")
        out = run("serve", env=env, cwd=tmp_path)
    assert out.returncode == 2
    assert (
        "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in out.stderr and "OAuth & Permissions" in out.stderr
    )
    assert "Traceback" not in out.stderr and "xoxb-not-the-real-one" not in out.stderr


def test_serve_without_slack_says_which_url_it_tried(tmp_path: Path) -> None:
    with FakeSlack() as fake:
        env = serve_env(fake, tmp_path, SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/")
    out = run("serve", env=env, cwd=tmp_path)
    assert out.returncode == 2
    assert f"cannot reach Slack's Web API at {env['SLACK_API_URL']}" in out.stderr
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
