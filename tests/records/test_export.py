"""`baton export <number> [--json]`: a real
incident, run on an injected clock or through signed HTTP, then the installed `baton export`
as a subprocess against that database, on SQLite and PostgreSQL. The Markdown, the JSON and
the note Slack got must tell the same story."""

from __future__ import annotations

import html
import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func
from sqlmodel import col, select

from bot.app.ticker import Ticker
from bot.incidents import notes
from bot.incidents import services as incidents
from bot.records import evidence
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import Incident, Job
from bot.store.runtime import Baton
from tests.conftest import BATON, RunningBaton, clean_env, incident_channel
from tests.handlers.test_incident_command import declare, events, shown

LEO, MAYA, LI, OMAR, DANA, SAM = "U07LEO0002", "U07MAYA001", "ULIE", "U07OMAR001", "U07DANA001", "U07SAM0001"
OWNING_TEAM = {MAYA, LI, OMAR}  # model-quality's ML Team; maya is also accountable
EVERYONE = OWNING_TEAM | {DANA, "U07KENJI01", "U07ROSA001", "U07ANA0001", "U07TOM0001"}
TITLE = "Hallucination spike on checkout"
GRAFANA = "https://grafana.example.com/d/llm?from=now-1h"


def export(db_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed `baton export`, with nothing but DATABASE_URL set (no Slack, no YAML)."""
    return subprocess.run(
        [BATON, "export", *args],
        env={**clean_env(), "DATABASE_URL": db_url},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def section(markdown: str, title: str) -> list[str]:
    """The lines of one `## ` section, blank lines left out."""
    lines = markdown.splitlines()
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return [line for line in lines[start:end] if line]


def page_lines(markdown: str) -> list[str]:
    return [line for line in section(markdown, "## Who was paged when") if line.startswith("- ")]


def slack_note(fake: FakeSlack, channel: str) -> str:
    """The note as posted in the channel: its code-block pieces joined, Slack's escaping undone."""
    pieces = [m["text"] for m in fake.messages(channel) if m["text"].startswith("```")]
    return "".join(html.unescape(p.removeprefix("```").removesuffix("```")) for p in pieces)


def move_to(clock: FakeClock, start: datetime, offset: timedelta) -> None:
    """Set the injected clock to `start + offset` exactly (pages then carry that second)."""
    clock.advance(start + offset - clock.now())


def settle(baton: Baton, ticker: Ticker, clock: FakeClock) -> None:
    """Run what is due, and what waits its turn behind it (channel messages go one by one, each
    deferred a moment of the injected clock), until nothing is due."""
    for _ in range(100):
        ticker.run_until_idle()
        with session(baton.engine) as s:
            due = s.exec(
                select(func.count())
                .select_from(Job)
                .where(
                    col(Job.state).in_(["pending", "running"]),
                    func.coalesce(col(Job.retry_at), col(Job.due_at)) <= clock.now() + timedelta(seconds=1),
                )
            ).one()
        if due == 0:
            return
        clock.advance(timedelta(milliseconds=200))
    raise AssertionError("jobs still due after 100 rounds")


def test_a_breached_p1_exports_each_page_against_its_window_the_ack_the_breach_and_the_evidence(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baton, ticker, clock = clocked
    start = clock.now()  # 2026-11-22 09:00:00 UTC
    inc = incidents.declare(baton=baton, severity="P1", area="model-quality", title=TITLE, reporter=LEO)
    assert inc.id is not None
    settle(baton, ticker, clock)  # +0s: the owning team is paged; the channel is set up
    channel = incident_channel(fake_slack)
    move_to(clock, start, timedelta(minutes=5))
    message = fake_slack.post_as_user(channel.id, MAYA, "refusal rate 12% since 09:05, call +44 20 7946 0958")
    permalink = baton.chat.permalink(channel.id, message["ts"])
    assert permalink and permalink.startswith("https://")
    evidence.add(
        baton=baton,
        number=inc.id,
        author=SAM,
        text=message["text"],
        link=permalink,
        source_channel=channel.id,
        source_ts=message["ts"],
        message_author=MAYA,
    )
    evidence.add(baton=baton, number=inc.id, author=MAYA, text=f"<{GRAFANA}>")
    move_to(clock, start, timedelta(minutes=30))  # T/2: the team again, plus everyone
    ticker.run_until_idle()
    move_to(clock, start, timedelta(hours=1))  # T: breached, everyone in the RACI paged
    ticker.run_until_idle()
    move_to(clock, start, timedelta(hours=1, minutes=5))
    incidents.acknowledge(baton=baton, number=inc.id, user=MAYA)
    move_to(clock, start, timedelta(hours=1, minutes=20))
    incidents.resolve(baton=baton, number=inc.id, summary="Rolled back prompt v42", user=MAYA)
    settle(baton, ticker, clock)

    done = export(db_url, str(inc.id), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    md = done.stdout
    assert md.startswith(f"# Incident #1: {TITLE}\n")
    for title in ("## Summary", "## Who was paged when", "## Evidence (2)", "## Timeline"):
        assert title in md.splitlines(), title
    assert section(md, "## Summary") == ["Rolled back prompt v42"]
    # Who was paged at which second of the 1 h window: 3 at +0s, 8 at +30m, 8 at the breach.
    pages = page_lines(md)
    assert len(pages) == 3 + 8 + 8, pages
    assert f"- +0s maya <@{MAYA}> (step 0), inside the 1h window" in pages
    assert f"- +0s li <@{LI}> (step 0), inside the 1h window" in pages
    assert f"- +30m maya <@{MAYA}> (step 1), inside the 1h window" in pages
    assert f"- +30m dana <@{DANA}> (step 1), inside the 1h window" in pages
    assert f"- +1h dana <@{DANA}> (step 2, breach), at the end of the 1h window" in pages
    assert not any(f"<@{DANA}> (step 0)" in line for line in pages)  # not in the first scope
    assert (
        f"- Acknowledged: 2026-11-22 10:05:00 UTC by maya <@{MAYA}>, after 1h5m (outside the 1h window)"
        in md.splitlines()
    )
    assert "- Window breached: yes, at 2026-11-22 10:00:00 UTC" in md.splitlines()
    assert "- Response window: 1h, from 2026-11-22 09:00:00 UTC until 2026-11-22 10:00:00 UTC" in md
    found = section(md, "## Evidence (2)")
    assert len(found) == 2
    assert found[0].startswith(
        f"- 2026-11-22 09:05:00 UTC <@{SAM}> message from maya <@{MAYA}>: refusal rate 12%"
    )
    assert f"({permalink})" in found[0] and "+44 20 7946 0958" not in md
    assert found[1] == f"- 2026-11-22 09:05:00 UTC maya <@{MAYA}> link: {GRAFANA}"
    timeline = section(md, "## Timeline")
    assert (
        timeline[0] == f"- 2026-11-22 09:00:00 UTC <@{LEO}> declared: declared P1 in model-quality: {TITLE}"
    )
    assert any(" breached: response window of 1h breached" in line for line in timeline)

    # The note Slack got on resolve lists the same pages, line for line.
    posted = slack_note(fake_slack, channel.id)
    assert "## Who was paged when" in posted
    assert page_lines(posted) == pages

    # --json: the same facts, for other tools.
    as_json = export(db_url, str(inc.id), "--json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert list(data) == sorted(data)  # sorted keys
    assert (data["number"], data["title"], data["severity"], data["state"]) == (1, TITLE, "P1", "resolved")
    assert (data["area"], data["area_name"], data["level_name"]) == (
        "model-quality",
        "Model / Prompt",
        "Core feature failure",
    )
    assert data["declared_at"] == "2026-11-22T09:00:00Z" and data["deadline"] == "2026-11-22T10:00:00Z"
    assert (data["response_time"], data["window_seconds"]) == ("1h", 3600)
    assert (data["acknowledged_by"], data["acknowledged_at"]) == (MAYA, "2026-11-22T10:05:00Z")
    assert (data["time_to_acknowledge_seconds"], data["acknowledged_inside_window"]) == (3900, False)
    assert (data["breached"], data["breached_at"]) == (True, "2026-11-22T10:00:00Z")
    assert (data["resolved_by"], data["summary"]) == (MAYA, "Rolled back prompt v42")
    assert data["channel_id"] == channel.id and data["people"][MAYA] == "maya"
    assert len(data["pages"]) == len(pages)
    offsets = {
        (p["user"], p["step"], p["offset_seconds"], p["inside_window"], p["breach"]) for p in data["pages"]
    }
    assert {(u, 0, 0, True, False) for u in OWNING_TEAM} | {(u, 1, 1800, True, False) for u in EVERYONE} | {
        (u, 2, 3600, False, True) for u in EVERYONE
    } == offsets
    assert {p["window_seconds"] for p in data["pages"]} == {3600}
    assert [(w["number"], w["reason"], w["severity"], w["window_seconds"]) for w in data["windows"]] == [
        (1, "declared", "P1", 3600)
    ]
    assert [(e["kind"], e["link"], e["message_author"]) for e in data["evidence"]] == [
        ("message", permalink, MAYA),
        ("link", GRAFANA, None),
    ]
    assert sum(data["evidence"][0]["masked"].values()) == 1
    assert len(data["timeline"]) == len(timeline)
    assert data["timeline"][0] == {
        "actor": LEO,
        "at": "2026-11-22T09:00:00Z",
        "kind": "declared",
        "text": f"declared P1 in model-quality: {TITLE}",
    }


def test_a_severity_raise_starts_a_new_window_and_its_pages_count_from_the_raise(
    clocked: tuple[Baton, Ticker, FakeClock], db_url: str, tmp_path: Path
) -> None:
    baton, ticker, clock = clocked
    start = clock.now()
    inc = incidents.declare(baton=baton, severity="P2", area="model", title="Refusals up", reporter=LEO)
    assert inc.id is not None
    settle(baton, ticker, clock)  # +0s of the P2 window (4h): maya, the on-call
    move_to(clock, start, timedelta(minutes=10))
    incidents.change_severity(baton=baton, number=inc.id, severity="P0", user=LEO)
    ticker.run_until_idle()  # +0s of the P0 window (15m): everyone
    move_to(clock, start, timedelta(minutes=17, seconds=30))  # the P0 window's T/2
    ticker.run_until_idle()
    move_to(clock, start, timedelta(minutes=18))
    incidents.acknowledge(baton=baton, number=inc.id, user=OMAR)

    done = export(db_url, f"#{inc.id}", cwd=tmp_path)  # as Slack shows it
    assert done.returncode == 0, done.stderr
    md = done.stdout
    paged = section(md, "## Who was paged when")
    first = paged.index("Window 1: P2, 4h from 2026-11-22 09:00:00 UTC (declared)")
    second = paged.index("Window 2: P0, 15m from 2026-11-22 09:10:00 UTC (raised)")
    assert paged[first + 1 : second] == [f"- +0s maya <@{MAYA}> (step 0), inside the 4h window"]
    later = paged[second + 1 :]
    assert len(later) == 2 * len(EVERYONE)
    assert f"- +0s omar <@{OMAR}> (step 0), inside the 15m window" in later
    assert f"- +7m30s omar <@{OMAR}> (step 1), inside the 15m window" in later
    # The acknowledgement is timed from the raise, against the P0 window.
    assert f"by omar <@{OMAR}>, after 8m (inside the 15m window)" in md
    assert "- Response window: 15m, from 2026-11-22 09:10:00 UTC until 2026-11-22 09:25:00 UTC" in md

    data = json.loads(export(db_url, str(inc.id), "--json", cwd=tmp_path).stdout)
    assert [
        (w["number"], w["reason"], w["severity"], w["started_at"], w["window_seconds"])
        for w in data["windows"]
    ] == [
        (1, "declared", "P2", "2026-11-22T09:00:00Z", 4 * 3600),
        (2, "raised", "P0", "2026-11-22T09:10:00Z", 15 * 60),
    ]
    assert [(p["window"], p["step"], p["offset_seconds"]) for p in data["pages"] if p["user"] == OMAR] == [
        (2, 0, 0),
        (2, 1, 450),
    ]
    assert (data["window_started_at"], data["time_to_acknowledge_seconds"]) == ("2026-11-22T09:10:00Z", 480)

    # Slack's `/incident note` renders the very same text from the same record.
    with session(baton.engine) as s:
        row = s.get(Incident, inc.id)
        assert row is not None
        assert notes.incident_note(s, row) == md


def test_a_lowering_moves_the_deadline_and_a_reopen_that_pages_starts_a_new_window(
    clocked: tuple[Baton, Ticker, FakeClock], db_url: str, tmp_path: Path
) -> None:
    baton, ticker, clock = clocked
    start = clock.now()
    inc = incidents.declare(baton=baton, severity="P1", area="model", title="Slow answers", reporter=LEO)
    assert inc.id is not None
    settle(baton, ticker, clock)  # +0s: the owning team
    move_to(clock, start, timedelta(minutes=10))
    incidents.change_severity(baton=baton, number=inc.id, severity="P2", user=MAYA)
    settle(baton, ticker, clock)
    move_to(clock, start, timedelta(hours=2, minutes=10))  # P2's T/2, timed from the lowering
    ticker.run_until_idle()
    move_to(clock, start, timedelta(hours=2, minutes=15))
    incidents.resolve(baton=baton, number=inc.id, summary="Cache warmed", user=MAYA)
    move_to(clock, start, timedelta(hours=2, minutes=20))
    incidents.reopen(baton=baton, number=inc.id, user=MAYA)  # nobody had acknowledged: pages again
    settle(baton, ticker, clock)

    data = json.loads(export(db_url, str(inc.id), "--json", cwd=tmp_path).stdout)
    # One window from the declaration whose deadline the lowering moved to 4h after it, then
    # a fresh P2 window from the reopen.
    assert [(w["reason"], w["severity"], w["started_at"], w["deadline"]) for w in data["windows"]] == [
        ("declared", "P1", "2026-11-22T09:00:00Z", "2026-11-22T13:10:00Z"),
        ("reopened", "P2", "2026-11-22T11:20:00Z", "2026-11-22T15:20:00Z"),
    ]
    pages = {
        (p["window"], p["step"], p["user"], p["offset_seconds"], p["window_seconds"]) for p in data["pages"]
    }
    # Each page is held against the deadline in force when it was due: 1h at the declaration.
    assert pages == (
        {(1, 0, u, 0, 3600) for u in OWNING_TEAM}
        | {(1, 1, u, 7800, 15000) for u in OWNING_TEAM}
        | {(2, 0, MAYA, 0, 14400)}
    )
    md = export(db_url, str(inc.id), cwd=tmp_path).stdout
    assert f"- +0s li <@{LI}> (step 0), inside the 1h window" in md
    assert f"- +2h10m li <@{LI}> (step 1), inside the 4h10m window" in md
    assert "Window 2: P2, 4h from 2026-11-22 11:20:00 UTC (reopened)" in md


def test_a_number_that_does_not_exist_says_so_and_exits_1(
    clocked: tuple[Baton, Ticker, FakeClock], db_url: str, tmp_path: Path
) -> None:
    baton, _, _ = clocked
    incidents.declare(baton=baton, severity="P3", area="data", title="Index lag", reporter="feedback")
    done = export(db_url, "99", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("baton: there is no incident #99 in ")
    assert "`baton export` takes the number Slack shows (#12); the newest is #1" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    backlog = export(db_url, "1", cwd=tmp_path)  # a backlog item has a note too, with nobody paged
    assert backlog.returncode == 0, backlog.stderr
    assert "- Response window: none (backlog: nobody is paged)" in backlog.stdout
    assert "by the product's feedback" in backlog.stdout  # a source by name, not its key
    assert section(backlog.stdout, "## Who was paged when") == ["- nobody"]


def test_what_is_not_a_number_or_not_a_database_ends_with_one_line_and_status_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "baton.db"
    for args in (["twelve"], ["0"], ["-3"]):
        done = export(f"sqlite:///{missing}", *args, cwd=tmp_path)
        assert done.returncode == 2 and "is not an incident number" in done.stderr, done.stderr
        assert done.stdout == "" and not missing.parent.exists()
    done = export(f"sqlite:///{missing}", "1", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        f"baton: no database at {missing} (DATABASE_URL=sqlite:///{missing}): point DATABASE_URL at "
        "Baton's database, or start `baton serve` once to create it.\n"
    )
    assert not missing.parent.exists()
    # The default, sqlite:///baton.db in the working directory, is not created either.
    default = subprocess.run(
        [BATON, "export", "1"], env=clean_env(), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert default.returncode == 2 and f"no database at {tmp_path / 'baton.db'}" in default.stderr
    assert list(tmp_path.iterdir()) == []
    empty = tmp_path / "empty.db"
    empty.touch()
    done = export(f"sqlite:///{empty}", "1", cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert "has no Baton tables" in done.stderr and empty.stat().st_size == 0
    refused = export("postgresql://baton:s3cret-pw@127.0.0.1:1/baton", "1", cwd=tmp_path)
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert refused.stderr.startswith(
        "baton: cannot connect to the database at 127.0.0.1:1 (connection refused)"
    )
    assert "postgresql://baton:***@127.0.0.1:1/baton" in refused.stderr
    assert "s3cret-pw" not in refused.stderr


def test_the_note_slack_shows_and_the_export_list_the_same_pages(
    fast: RunningBaton, db_url: str, tmp_path: Path
) -> None:
    fake = fast.fake
    declare(fast)
    channel = incident_channel(fake)
    fake.wait_for(lambda: len([e for e in events(fast) if e.kind == "paged"]) == 3, message="step 0 paged")
    ack = fast.command("/incident", "ack", user_id=MAYA, channel_id=channel.id, channel_name=channel.name)
    assert ack.status_code == 200 and "warning" not in ack.text
    body = fast.command(
        "/incident", "note", user_id=LEO, channel_id=channel.id, channel_name=channel.name
    ).json()
    in_slack = html.unescape(shown(body).replace("```", ""))
    done = export(db_url, "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert page_lines(in_slack) == page_lines(done.stdout)
    # Step 0 paged the owning team; on a loaded machine T/2's step may also page before the ack.
    step0 = [line for line in page_lines(done.stdout) if "(step 0)" in line]
    assert {line.split(" (step 0)")[0].split()[-1] for line in step0} == {f"<@{u}>" for u in OWNING_TEAM}
    assert all(line.endswith(", inside the 6s window") for line in page_lines(done.stdout))
    assert "(inside the 6s window)" in done.stdout  # maya acknowledged within seconds
