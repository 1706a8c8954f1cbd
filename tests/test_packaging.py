"""`pip install .` (not only an editable install) must ship every package and data file."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent


def test_every_source_directory_is_an_installed_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    shipped = set(find_packages(where=str(ROOT), include=config["packages"]["find"]["include"]))
    sources = {
        ".".join(d.relative_to(ROOT).parts)
        for top in ("bot", "handlers")
        for d in [ROOT / top, *(ROOT / top).rglob("*")]
        if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
    }
    assert sources - shipped == set(), "add an __init__.py, or widen [tool.setuptools.packages.find]"
    assert {"bot.store.migrations", "bot.store.migrations.versions", "handlers.commands"} <= shipped
    assert "*.mako" in config["package-data"]["bot.store.migrations"]  # Alembic's revision template


def test_the_slack_stand_in_ships_its_method_list_and_licence(tmp_path: Path) -> None:
    """setuptools copies the package as `pip install .` would (build_py, package-data applied);
    the copy, away from this checkout, loads its method list and names Slack's spec licence."""
    lib = tmp_path / "lib"
    built = subprocess.run(
        [
            sys.executable,
            "-c",
            "from setuptools import setup; setup()",
            "-q",
            "build_py",
            "--build-lib",
            str(lib),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    standin = lib / "bot" / "slack" / "standin"
    assert (standin / "methods.json").is_file()
    # baton demo's page, served from the package too.
    static = lib / "bot" / "app" / "demo" / "static"
    assert {"index.html", "demo.css", "demo.js"} <= {p.name for p in static.iterdir()}
    assert (
        "MIT License" in (standin / "LICENSE").read_text() and "SlackAPI" in (standin / "LICENSE").read_text()
    )
    probe = (
        "import bot.slack.standin as s; from bot.slack.standin.spec import load_spec;"
        "print(s.__file__); print(len(load_spec()))"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(lib), "PYTHONSAFEPATH": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    where, count = ran.stdout.split()
    assert (
        where.startswith(str(lib)) and int(count) > 150
    )  # the copy, not this checkout, and Slack's whole list


def test_the_demo_page_ships_its_files() -> None:
    """`baton demo` serves its page from package files: each one matches a package-data pattern."""
    from fnmatch import fnmatch

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]["bot.app.demo"]
    demo = ROOT / "bot/app/demo"
    files = [p.relative_to(demo).as_posix() for p in (demo / "static").iterdir()]
    assert {"static/index.html", "static/demo.css", "static/demo.js"} <= set(files)
    assert all(any(fnmatch(f, pattern) for pattern in patterns) for f in files), (files, patterns)
