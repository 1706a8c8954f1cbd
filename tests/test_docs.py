"""The README is a guide and docs/ the reference: every link and every repository path they name
exists, the README stays short, and neither cites a file outside the repository or the history of
its making."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_LINES = 250
# Extensions that make a bare backticked name (no "/") a repository file rather than a word.
FILE_ENDINGS = (".py", ".yaml", ".md", ".toml")

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE = re.compile(r"`([^`\n]+)`")
PATHLIKE = re.compile(r"[\w.-]+(/[\w.-]+)*/?")
HISTORY = re.compile(r"\bissue\s+#?\d+", re.I)


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "tests/README.md"]


def tracked_names() -> set[str]:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return {Path(f).name for f in files.stdout.split()}


def repository_paths(text: str) -> list[str]:
    """Backticked spans outside fenced blocks that look like a repository file: a path with a
    "/" (not an absolute one, a URL or `file::test`'s test part) or a name ending in a source
    extension."""
    found = []
    for span in CODE.findall(FENCE.sub("", text)):
        candidate = span.split("::", 1)[0].removeprefix("./")
        if candidate.startswith("/") or not PATHLIKE.fullmatch(candidate):
            continue
        if "/" in candidate or candidate.endswith(FILE_ENDINGS):
            found.append(candidate)
    return found


def problems(page: Path, names: set[str], root: Path = ROOT) -> list[str]:
    text = page.read_text()
    where = page.relative_to(root)
    out = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a URL, mailto: or an anchor on the same page
        if not (page.parent / target.split("#", 1)[0]).exists():
            out.append(f"{where}: the link ({target}) points at nothing in the repository")
    for path in repository_paths(text):
        exists = (root / path).exists() if "/" in path else path in names or (root / path).exists()
        if not exists:
            out.append(f"{where}: `{path}` is not in the repository")
    if "PRODUCT.md" in text:
        out.append(f"{where}: cites PRODUCT.md, which is not in the repository (say 'the product contract')")
    out += [f"{where}: refers to the history of its making ({m.group(0)!r})" for m in HISTORY.finditer(text)]
    return out


def test_the_pages_it_walks_exist() -> None:
    assert (ROOT / "README.md").is_file()
    assert len(pages()) > 1, "docs/ holds the reference the README links to"


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_and_path_exists_and_nothing_cites_what_is_not_here(page: Path) -> None:
    assert problems(page, tracked_names()) == []


def test_the_readme_is_a_guide_of_at_most_250_lines() -> None:
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines <= README_LINES, f"README.md has {lines} lines; the reference belongs in docs/"


def test_every_docs_page_starts_with_a_title_and_what_it_covers() -> None:
    for page in pages()[1:]:
        first, blank, what = page.read_text().split("\n")[:3]
        said = f"{page.name} starts with a one-line title, a blank line and what it covers"
        assert first.startswith("# ") and blank == "" and what, said


def test_the_readme_keeps_the_test_command_ci_runs() -> None:
    command = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest"
    assert f"\n{command}\n" in (ROOT / ".ci" / "run").read_text()
    assert f"\n{command}\n" in (ROOT / "README.md").read_text()


def test_the_checker_finds_what_it_looks_for(tmp_path: Path) -> None:
    """Each check can fail: a page with one of each mistake is named for each."""
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "x.md"
    page.write_text(
        "[gone](missing.md) `bot/nowhere.py` `nowhere.toml` see PRODUCT.md, as issue 10 found\n"
        "fine: [here](x.md) `https://a.b/c` `/slack/events` `tests/x.md::test_y`\n"
    )
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "x.md").write_text("")
    found = problems(page, set(), tmp_path)
    assert len(found) == 5, found


NAMED_TEST = re.compile(r"`(?:(tests/[\w/]+\.py))?::(test_\w+)`|`(tests/[\w/]+\.py)`")


def named_tests(text: str) -> list[tuple[str, str]]:
    """(file, test) for every `tests/…py::test_x` and every `::test_y` after it in the same text
    (the security table names several tests of one file that way)."""
    current, out = "", []
    for m in NAMED_TEST.finditer(text):
        if m.group(3):
            current = m.group(3)
            continue
        current = m.group(1) or current
        out.append((current, m.group(2)))
    return out


def test_every_test_the_docs_name_exists() -> None:
    missing = [
        f"{page.relative_to(ROOT)}: {file}::{name}"
        for page in pages()
        for file, name in named_tests(page.read_text())
        if not file or not re.search(rf"^def {name}\b", (ROOT / file).read_text(), re.M)
    ]
    assert missing == [], "tests named in the docs that do not exist:\n" + "\n".join(missing)


def test_the_test_finder_reads_the_tables_shorthand() -> None:
    text = "`tests/a.py::test_one`, `::test_two` | `tests/b.py` | `::test_three`"
    assert named_tests(text) == [
        ("tests/a.py", "test_one"),
        ("tests/a.py", "test_two"),
        ("tests/b.py", "test_three"),
    ]


# Files outside the repository and the history of its making, as cited anywhere it keeps. The file
# names match in capitals only: docs/architecture.md is in the repository, ARCHITECTURE.md is not.
ELSEWHERE = re.compile(r"PRODUCT\.md|ARCHITECTURE\.md|\.\./shared|(?i:\bissue\s+#?\d+)")
NOT_WALKED = ("tests/test_docs.py", "tests/data/")


def citations(root: Path = ROOT) -> list[str]:
    """file:line: the match, for every tracked text file (binary ones and the data copied from
    Slack's spec are left out, and this file, which names what it looks for)."""
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True)
    out = []
    for name in files.stdout.splitlines():
        path = root / name
        if name.startswith(NOT_WALKED) or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            out += [f"{name}:{number}: {m.group(0)!r}" for m in ELSEWHERE.finditer(line)]
    return out


def test_no_tracked_file_cites_what_is_not_here_or_its_history() -> None:
    found = citations()
    assert found == [], (
        "cites a file outside the repository or an issue (say the rule in words):\n" + "\n".join(found)
    )


def test_the_citation_walk_finds_each_kind(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "a.py").write_text("# PRODUCT.md §1\nok\n# see ../shared/x and Issue #17\n")
    (tmp_path / "b.md").write_text("ARCHITECTURE.md\ndocs/architecture.md is here\n")
    (tmp_path / "c.bin").write_bytes(b"\0issue 3")
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)
    assert citations(tmp_path) == [
        "a.py:1: 'PRODUCT.md'",
        "a.py:3: '../shared'",
        "a.py:3: 'Issue #17'",
        "b.md:1: 'ARCHITECTURE.md'",
    ]
