"""`pip install .` (not only an editable install) must ship every package and data file."""

from __future__ import annotations

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


def test_the_demo_page_ships_its_files() -> None:
    """`baton demo` serves its page from package files: each one matches a package-data pattern."""
    from fnmatch import fnmatch

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]["bot.app.demo"]
    demo = ROOT / "bot/app/demo"
    files = [p.relative_to(demo).as_posix() for p in (demo / "static").iterdir()]
    assert {"static/index.html", "static/demo.css", "static/demo.js"} <= set(files)
    assert all(any(fnmatch(f, pattern) for pattern in patterns) for f in files), (files, patterns)
