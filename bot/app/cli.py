"""`baton` on the command line: serve, demo, check, plan, reload, verify, seal, export, nudge, drill."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from slack_bolt import App

from bot.app.nudge_command import NAMES as NUDGE_NAMES
from bot.app.stopping import Stop
from bot.config.issues import ConfigError
from bot.config.loader import Config, load_config
from bot.config.ownership import Ownership
from bot.config.rotation import Window, zone_of
from bot.incidents.ladder import render_plan
from bot.oncall import overrides as oncall_overrides
from bot.records import handoff_views
from bot.records.export import export_command, parse_number
from bot.store.db import DEFAULT_DATABASE, DatabaseUnavailable
from bot.store.models import OwnerOverride
from bot.store.runtime import Baton
from bot.store.settings import Settings, SettingsError, slack_api_from_env
from bot.text import typed
from bot.text.typed import Malformed, Unknown

AppFactory = Callable[[Baton], App]
PID_FILE_ENV = "BATON_PID_FILE"


# What each command's --help says under its usage (set apart from the arguments, so each
# command's arguments stay where they are defined).
DESCRIPTIONS = {
    "serve": "Run the bot: Slack commands, buttons and events (Socket Mode when SLACK_APP_TOKEN is "
    "set, else HTTP on $PORT at /slack/events), paging, nudges, POST /alerts/alertmanager and POST "
    "/feedback. Reads SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET or SLACK_APP_TOKEN, DATABASE_URL, "
    "BATON_OWNERSHIP_FILE and BATON_SEVERITY_FILE; re-reads the YAML files on SIGHUP (baton reload). "
    "Exit 2 when the environment cannot start it (one line saying what to set), 1 when a YAML file "
    "is invalid.",
    "check": "Validate ownership.yaml and severity.yaml (BATON_OWNERSHIP_FILE, BATON_SEVERITY_FILE): "
    "every problem with file:line, the key path and what would be right; exit 1 on any. With --slack, "
    "also ask Slack; exit 1 on a problem there, 2 when Slack cannot be asked. It says ok only when "
    "everything asked for passed.",
    "plan": "Print who would be paged when for an incident of SEVERITY in AREA, step by step against "
    "the response window, from the YAML files and, when DATABASE_URL names a database, the on-call "
    "overrides and handovers made in Slack. No Slack needed; nothing is written.",
    "reload": "Validate the YAML files, then send SIGHUP to the baton serve whose pid is in "
    f"{PID_FILE_ENV} (default ./baton.pid), which re-reads them; a bad file changes nothing. Exit 1 "
    "when a file is invalid or no running baton serve is found.",
    "verify": "Check the hash chains of handoff receipts and evidence in DATABASE_URL, reading only "
    "(a copy or a read-only mount will do). Exit 0 when every chain holds, 1 naming the first "
    "receipt or evidence item of each chain that does not match, 2 when the database cannot be read.",
    "seal": "Key the handoff and evidence hash chains in DATABASE_URL with the chain key (BATON_CHAIN_KEY or "
    "BATON_CHAIN_KEY_FILE), once: each chain is checked as it is, and one that does not verify is left "
    "as it is and named (sealing it would bless what was changed); the rest are re-sealed with the key "
    "and its fingerprint recorded. Run it once after setting a key on a database Baton has written "
    "without one; until then a Baton with the key writes no receipt or evidence. Never run it to make "
    "`baton verify` pass on a database that was sealed before: that means the record of the key was "
    "removed; investigate. Exit 0 done (or sealed already), 1 when a chain was left unsealed or the "
    "record had been removed, 2 when the database or the key cannot be used.",
    "export": "Print incident NUMBER's note from DATABASE_URL, reading only: what happened when, the "
    "pages against the response window, evidence and handoffs, as Markdown or --json; or --html, one "
    "self-contained page with a picture of the response window, written to -o FILE or "
    "incident-NUMBER.html. No Slack needed. Exit 1 when there is no such incident, 2 when the database "
    "cannot be read.",
    "nudge": "Run one scheduled nudge now, as its cron would: slo (the SLO digest), readiness, review "
    "(the weekly failure review), handoffs (reminders of unsigned receipts) or drill (the next area's "
    "scheduled P2 drill, declared here; a running Baton pages and announces it). Reads SLACK_BOT_TOKEN, "
    "SLACK_API_URL, DATABASE_URL and the YAML files.",
    "drill": "Start a drill (a rehearsal of the response window) of SEVERITY in AREA: "
    "written to DATABASE_URL as `/incident drill` writes it; the running `baton serve` opens the "
    "drill-… channel, pages the real ladder marked DRILL and posts the score card. --window shortens "
    "the window and every step in it alike. Reads SLACK_BOT_TOKEN, DATABASE_URL and the YAML files. "
    "Exit 1 when the severity, area or window is wrong, 2 when the database or Slack cannot be used.",
}


def main(argv: Sequence[str] | None = None, *, app_factory: AppFactory | None = None) -> int:
    """`baton`: the exit status of the command. Output piped into a reader that stops early
    (`baton plan … | head -1`) ends the command quietly, as with any Unix tool."""
    try:
        try:
            code = _main(argv, app_factory=app_factory)
        except SystemExit as e:  # argparse: --help, or a usage error it has printed
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        sys.stdout.flush()  # here, not at exit: a closed pipe is answered below, not by a traceback
        return code
    except BrokenPipeError:
        # Nothing more can reach the reader; point stdout away so the flush at exit is silent.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _main(argv: Sequence[str] | None, *, app_factory: AppFactory | None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["demo"]:
        from bot.app.demo.run import main as demo  # only when asked: `baton serve` never loads it

        return demo(given[1:])
    parser = argparse.ArgumentParser(
        prog="baton", description="Incident response and ownership for Slack: RACI, response windows, paging."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("serve", help="run the bot (HTTP on $PORT, or Socket Mode when SLACK_APP_TOKEN is set)")
    sub.add_parser("demo", help="try Baton with no Slack workspace: a page on 127.0.0.1 (baton demo --help)")
    check_parser = sub.add_parser(
        "check", help="validate ownership.yaml and severity.yaml; exit 1 on any error"
    )
    check_parser.add_argument(
        "--slack",
        action="store_true",
        help="also ask Slack (SLACK_BOT_TOKEN, SLACK_API_URL) that every channel, user group and user "
        "in them exists and that Baton can post where it must",
    )
    plan = sub.add_parser("plan", help="print who would be paged when, for a severity and an area (no Slack)")
    plan.add_argument("severity", help="P0, P1, P2 or P3")
    plan.add_argument("area", help="an area key or alias from ownership.yaml")
    plan.add_argument(
        "--at",
        metavar="TIME",
        help="the moment to plan for: now (the default), 2026-12-07T09:30 (in nudges.timezone) "
        "or with an offset, 2026-12-07T09:30+01:00",
    )
    sub.add_parser(
        "reload", help="validate the YAML files, then tell the running `baton serve` to re-read them"
    )
    verify_parser = sub.add_parser(
        "verify",
        help="check the hash chains of handoff receipts and evidence in DATABASE_URL (with the key in "
        "BATON_CHAIN_KEY or BATON_CHAIN_KEY_FILE); exit 1 naming the first receipt or evidence item of "
        "each chain that does not match",
    )
    verify_parser.add_argument(
        "--anchor",
        metavar="FILE",
        help="also compare with chain heads `baton export --heads` wrote earlier (kept off the database's "
        "machine): name each chain there that is missing, shorter, or rewritten since",
    )
    sub.add_parser(
        "seal",
        help="key the plain hash chains in DATABASE_URL with the chain key, once (after setting a key on a "
        "database written without one)",
    )
    export = sub.add_parser(
        "export",
        help="print an incident's note from DATABASE_URL: Markdown, or --json (no Slack needed); "
        "or --heads, every hash chain's head",
    )
    export.add_argument(
        "number", nargs="?", type=parse_number, help="the incident number Slack shows (12 or #12)"
    )
    export.add_argument("--json", action="store_true", help="the same record as JSON, for other tools")
    export.add_argument(
        "--html",
        action="store_true",
        help="one self-contained HTML page (the response window's picture, timeline, evidence, receipts, "
        "chain verification) written to -o FILE or incident-NUMBER.html",
    )
    export.add_argument(
        "--heads",
        action="store_true",
        help="instead of a note: every chain head (name, seq, hash) as JSON, an anchor for "
        "`baton verify --anchor`; keep it off the database's machine",
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    nudge = sub.add_parser("nudge", help="run one scheduled nudge now (SLACK_BOT_TOKEN, DATABASE_URL)")
    nudge.add_argument("name", choices=NUDGE_NAMES, help="which nudge")
    drill = sub.add_parser(
        "drill", help="start a drill: the real ladder, marked DRILL, scored (DATABASE_URL)"
    )
    drill.add_argument("severity", help="P0-P2, e.g. P1")
    drill.add_argument("area", help="an area of ownership.yaml, e.g. model-quality")
    drill.add_argument("title", nargs="*", help="what is rehearsed (default: the level's window)")
    drill.add_argument(
        "--window", metavar="DURATION", help="shorten the window (and its steps) to this, e.g. 10m"
    )
    drill.add_argument("--by", metavar="PERSON", help="who the score card is DM'd to (as people: names them)")
    for name, described in DESCRIPTIONS.items():
        sub.choices[name].description = described
    args = parser.parse_args(argv)
    # slack_sdk's Web client logs an ERROR line for each failed attempt (three before it gives
    # up), before Baton can say what went wrong and what to do: Baton's own line is the one shown
    # (at start-up, by `check --slack` and `nudge`), and the ticker logs a job's Slack failures.
    logging.getLogger("slack_sdk.web.base_client").setLevel(logging.CRITICAL)

    if args.command == "serve":
        if app_factory is None:
            print(
                "baton: serve needs the Slack listeners; run the installed `baton` command", file=sys.stderr
            )
            return 2
        return serve(app_factory)
    if args.command == "check":
        return check(slack=args.slack)
    if args.command == "plan":
        return plan_command(args.severity, args.area, at=args.at)
    if args.command == "reload":
        return reload_command()
    if args.command == "verify":
        from bot.app import verify_command  # the database and Alembic only when verifying

        return verify_command.command(args.anchor)
    if args.command == "seal":
        from bot.app import seal_command

        return seal_command.command()
    if args.command == "export":
        if args.heads:
            if args.number is not None or args.json or args.html:
                export.error("--heads writes every chain's head: give no incident number, --json or --html")
            from bot.records import anchor

            return anchor.heads_command(args.output)
        if args.number is None:
            export.error("give the incident number Slack shows, e.g. baton export 12 (or --heads)")
        if args.json and args.html:
            export.error("give --json or --html, not both")
        return export_command(args.number, as_json=args.json, as_html=args.html, output=args.output)
    if args.command == "nudge":
        config = _load()
        if config is None:
            return 1
        from bot.app.nudge_command import nudge_command

        return nudge_command(args.name, config)
    if args.command == "drill":
        return _drill(args)
    return 2  # pragma: no cover - argparse rejects unknown commands first


def _drill(args: argparse.Namespace) -> int:
    window = None
    if args.window is not None:
        try:
            window = typed.duration(args.window, accepted="give a duration such as 10m, 90s or 1h")
        except Malformed as e:
            print(f"baton: --window {e.plain()}", file=sys.stderr)
            return 2
    config = _load()
    if config is None:
        return 1
    from bot.app.drill_command import drill_command

    return drill_command(
        config, severity=args.severity, area=args.area, title=" ".join(args.title), window=window, by=args.by
    )


def _paths() -> tuple[str, str]:
    return (
        os.environ.get("BATON_OWNERSHIP_FILE") or "ownership.yaml",
        os.environ.get("BATON_SEVERITY_FILE") or "severity.yaml",
    )


def _load() -> Config | None:
    ownership, severity = _paths()
    try:
        return load_config(ownership_path=ownership, severity_path=severity)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        n = len(e.issues)
        print(f"baton: {n} error{'s' if n != 1 else ''} in the config; nothing was changed", file=sys.stderr)
        return None


def check(*, slack: bool = False) -> int:
    config = _load()
    if config is None:
        return 1
    o, s = config.ownership, config.severity
    valid = (
        f"ok: {config.ownership_path} ({len(o.areas)} areas, {len(o.teams)} teams, {len(o.people)} people) "
        f"and {config.severity_path} ({len(s.levels)} levels)"
    )
    if slack:
        # "ok" is said once everything asked for passed, never before a problem Slack finds.
        code = check_against_slack(config)
        if code != 0:
            return code
        print(valid)
        print(
            "ok: Slack has every channel, user group and user in the config, and Baton can post where it must"
        )
        from bot.followups.check import trackers

        asked = len(trackers(config))
        if asked:
            print(f"ok: {_count(asked, 'issue tracker')} in the config answered with the token set for it")
    else:
        print(valid)
    # Not errors: the file is valid, but a role was handed over in Slack since it was written.
    for note in handoff_views.file_notes(config, Ownership(config.ownership), _handovers()):
        print(note)
    return 0


def check_against_slack(config: Config) -> int:
    """0 when Slack agrees with the config; otherwise each problem (file:line, as config errors
    say it) and a count on stderr, 1 (2 when Slack cannot be asked at all)."""
    from bot.app.runner import check_slack
    from bot.followups import check as followups_check
    from bot.slack import check as slack_check
    from bot.slack.chat import Chat, make_client

    try:
        token, api_url = slack_api_from_env()
        chat = Chat(make_client(token=token, base_url=api_url))
        check_slack(chat, api_url)
    except SettingsError as e:
        print(f"baton: {e}", file=sys.stderr)
        return 2
    warning = slack_check.scope_warning(chat)
    if warning is not None:  # a warning, not a problem of the config: the exit status is the config's
        print(f"baton: warning: {warning}", file=sys.stderr)
    in_slack = slack_check.check(config, chat)
    in_trackers = followups_check.check(config)  # each tracker's repo or project, and its token
    for problem in [*in_slack, *in_trackers]:
        print(problem, file=sys.stderr)
    found = [
        f"{_count(n, 'problem')} found {where}"
        for n, where in ((len(in_slack), "in Slack"), (len(in_trackers), "in the issue trackers"))
        if n
    ]
    if found:
        print(f"baton: {' and '.join(found)}", file=sys.stderr)
        return 1
    return 0


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'s' if n != 1 else ''}"


AT_ACCEPTED = "use now, 2026-12-07T09:30 (in nudges.timezone) or with an offset, 2026-12-07T09:30+01:00"


def plan_command(severity: str, area: str, *, at: str | None = None) -> int:
    written = None
    if at is not None and at.strip().lower() != "now":
        try:
            written = typed.moment(at, accepted=AT_ACCEPTED)
        except Malformed as e:
            print(f"baton: --at {e.plain()}", file=sys.stderr)
            return 2
    config = _load()
    if config is None:
        return 1
    # A naive time is wall time in nudges.timezone, as in ownership.yaml.
    zone = zone_of(config.ownership)
    moment = (
        datetime.now(UTC)
        if written is None
        else (written if written.tzinfo is not None else written.replace(tzinfo=zone)).astimezone(UTC)
    )
    handovers = _handovers()
    ownership = Ownership(
        config.ownership,
        overrides={key: row.ref for key, row in handovers.items()},
        oncall_windows=_oncall_windows(moment),
        now=lambda: moment,
    )
    try:
        level = typed.severity(severity, sorted(config.severity.levels))
    except Unknown as e:
        print(f"baton: {e.plain()} (e.g. baton plan P1 model-quality)", file=sys.stderr)
        return 2
    key = ownership.area(area)
    if key is None:
        print(
            f"baton: {ownership.unknown_area(area).plain()} (e.g. baton plan P1 model-quality)",
            file=sys.stderr,
        )
        return 2
    print(render_plan(ownership=ownership, severity=config.severity, level=level, area=key, at=moment))
    for note in handoff_views.file_notes(config, ownership, handovers):
        print(f"note: {note}")
    return 0


def _handovers() -> dict[str, OwnerOverride]:
    """Roles handed over in Slack and countersigned, from Baton's database when there is one:
    they hold (for paging, and so for `plan`) until ownership.yaml is edited to match."""
    url = os.environ.get("DATABASE_URL", "").strip()
    try:
        return handoff_views.read_overrides(url or DEFAULT_DATABASE)
    except DatabaseUnavailable as e:
        if url:  # asked for a database that cannot be read: say so; no database at all is fine
            print(f"baton: note: {e} Roles handed over in Slack are not shown.", file=sys.stderr)
        return {}


def _oncall_windows(moment: datetime) -> dict[str, list[Window]]:
    """On-call overrides added in Slack and not ended by `moment`, from Baton's database when
    there is one (an unreadable one was reported by _handovers already)."""
    url = os.environ.get("DATABASE_URL", "").strip()
    try:
        return oncall_overrides.read_windows(url or DEFAULT_DATABASE, after=moment)
    except DatabaseUnavailable:
        return {}


def reload_command() -> int:
    if _load() is None:
        return 1
    pid_file = Path(os.environ.get(PID_FILE_ENV) or "baton.pid")
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as e:
        print(
            f"baton: no running `baton serve` found through {pid_file} ({e}); "
            f"send SIGHUP to the process yourself, or set {PID_FILE_ENV}",
            file=sys.stderr,
        )
        return 1
    print(f"ok: the config is valid; asked baton serve (pid {pid}) to reload it")
    return 0


def serve(app_factory: AppFactory) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # slack_sdk logs request details at DEBUG; keep them (and any token) out of the log.
    # httpx logs every request at INFO: PromQL and webhook URLs have no place in Baton's log.
    for name in ("slack_sdk", "slack_bolt", "apscheduler", "alembic", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
    except SettingsError as e:
        print(f"baton: {e}", file=sys.stderr)
        return 2
    # Settings hold the token now. Bolt would read it from the environment again and warn that it
    # ignores it (it is handed a client); child processes have no use for it either.
    os.environ.pop("SLACK_BOT_TOKEN", None)
    config = _load()
    if config is None:
        return 1

    from bot.app.runner import Runner, bolt_app, boot  # heavy imports only when serving
    from bot.app.server import check_port

    try:
        check_port(settings.host, settings.port)  # before the database and Slack are touched
        baton = boot(settings, config, migrate_apart=True)
        runner = Runner(baton, bolt_app(app_factory, baton), host=settings.host)  # a port in use fails here
    except SettingsError as e:
        print(f"baton: {e}", file=sys.stderr)
        return 2
    runner.start()
    check_in_background(baton)
    pid_file = Path(os.environ.get(PID_FILE_ENV) or "baton.pid")
    try:
        pid_file.write_text(f"{os.getpid()}\n")
    except OSError:
        pid_file = None  # type: ignore[assignment]
    stop = Stop()
    signal.signal(signal.SIGTERM, stop.on_signal)
    signal.signal(signal.SIGINT, stop.on_signal)
    signal.signal(
        signal.SIGHUP, lambda *_: threading.Thread(target=_reload, args=(baton,), daemon=True).start()
    )
    try:
        stop.wait()
    finally:
        runner.stop()
        if pid_file is not None:
            pid_file.unlink(missing_ok=True)
    return 0


def _reload(baton: Baton) -> None:
    if baton.reload() is None:
        check_in_background(baton)


def check_in_background(baton: Baton) -> threading.Thread:
    """The config against Slack, after start-up and off the request path: each problem is one warning."""
    from bot.slack.chat import Chat, make_client
    from bot.slack.check import log_problems

    def run() -> None:
        # Its own client, which waits out a 429, so it never holds up the ticker's Slack calls.
        chat = Chat(make_client(token=baton.settings.bot_token, base_url=baton.settings.api_url))
        log_problems(baton.config, chat)

    thread = threading.Thread(target=run, name="baton-slack-check", daemon=True)
    thread.start()
    return thread
