"""`baton` on the command line: serve, check, plan, reload."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from slack_bolt import App

from bot.config.ownership import Ownership
from bot.config.schema import Config, ConfigError, load_config
from bot.incidents.ladder import render_plan
from bot.store.runtime import Baton
from bot.store.settings import Settings, SettingsError

AppFactory = Callable[[Baton], App]
PID_FILE_ENV = "BATON_PID_FILE"


def main(argv: Sequence[str] | None = None, *, app_factory: AppFactory | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="baton", description="Incident response and ownership for Slack: RACI, response windows, paging."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("serve", help="run the bot (HTTP on $PORT, or Socket Mode when SLACK_APP_TOKEN is set)")
    sub.add_parser("check", help="validate ownership.yaml and severity.yaml; exit 1 on any error")
    plan = sub.add_parser("plan", help="print who would be paged when, for a severity and an area (no Slack)")
    plan.add_argument("severity", help="P0, P1, P2 or P3")
    plan.add_argument("area", help="an area key or alias from ownership.yaml")
    sub.add_parser(
        "reload", help="validate the YAML files, then tell the running `baton serve` to re-read them"
    )
    args = parser.parse_args(argv)

    if args.command == "serve":
        if app_factory is None:
            print(
                "baton: serve needs the Slack listeners; run the installed `baton` command", file=sys.stderr
            )
            return 2
        return serve(app_factory)
    if args.command == "check":
        return check()
    if args.command == "plan":
        return plan_command(args.severity, args.area)
    if args.command == "reload":
        return reload_command()
    return 2  # pragma: no cover - argparse rejects unknown commands first


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


def check() -> int:
    config = _load()
    if config is None:
        return 1
    o, s = config.ownership, config.severity
    print(
        f"ok: {config.ownership_path} ({len(o.areas)} areas, {len(o.teams)} teams, {len(o.people)} people) "
        f"and {config.severity_path} ({len(s.levels)} levels)"
    )
    return 0


def plan_command(severity: str, area: str) -> int:
    config = _load()
    if config is None:
        return 1
    ownership = Ownership(config.ownership)
    level = severity.upper()
    if level not in config.severity.levels:
        levels = ", ".join(sorted(config.severity.levels))
        print(
            f"baton: unknown severity {severity!r}; use one of {levels} (e.g. baton plan P1 model-quality)",
            file=sys.stderr,
        )
        return 2
    key = ownership.area(area)
    if key is None:
        hint = ownership.suggest_area(area)
        did_you_mean = f" (did you mean {hint!r}?)" if hint else ""
        print(
            f"baton: unknown area {area!r}{did_you_mean}; areas: {', '.join(config.ownership.areas)}",
            file=sys.stderr,
        )
        return 2
    print(render_plan(ownership=ownership, severity=config.severity, level=level, area=key))
    return 0


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
    for name in ("slack_sdk", "slack_bolt", "apscheduler", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
    except SettingsError as e:
        print(f"baton: {e}", file=sys.stderr)
        return 2
    config = _load()
    if config is None:
        return 1

    from bot.app.runner import Runner, boot  # heavy imports only when serving

    try:
        baton = boot(settings, config)
    except SettingsError as e:
        print(f"baton: {e}", file=sys.stderr)
        return 2
    runner = Runner(baton, app_factory(baton))
    runner.start()
    pid_file = Path(os.environ.get(PID_FILE_ENV) or "baton.pid")
    try:
        pid_file.write_text(f"{os.getpid()}\n")
    except OSError:
        pid_file = None  # type: ignore[assignment]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=baton.reload, daemon=True).start())
    try:
        while not stop.wait(1.0):
            pass
    finally:
        runner.stop()
        if pid_file is not None:
            pid_file.unlink(missing_ok=True)
    return 0
