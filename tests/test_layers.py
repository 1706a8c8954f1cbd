"""bot/'s folders form layers: no folder imports one that imports it back, directly or around a
loop; bot/ never imports handlers/; a migration carries a frozen copy of what it computes.

Every import counts, a function's late one as much as a module's first lines: a loop through a
late import is still a loop a reader has to hold in mind.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# folder -> folder it imports -> the files that do it, as "bot/records/handoffs.py imports bot.oncall.who"
Graph = dict[str, dict[str, list[str]]]


def _imported(tree: ast.AST, module: str) -> list[str]:
    """Every module `tree` (the source of `module`, dotted) imports, absolute."""
    package = module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            out += [f"{prefix}.{a.name}" for a in node.names]  # `from bot.store import jobs`: bot.store.jobs
    return out


def folder_graph(root: Path) -> Graph:
    """bot/'s folders and what each imports of the others (migrations count as their folder's)."""
    bot = root / "bot"
    folders = {d.name for d in bot.iterdir() if d.is_dir() and (d / "__init__.py").exists()}
    graph: Graph = defaultdict(lambda: defaultdict(list))
    for path in sorted(bot.rglob("*.py")):
        rel = path.relative_to(root)
        if len(rel.parts) < 3:
            continue  # bot/__init__.py
        here = rel.parts[1]
        module = ".".join(rel.with_suffix("").parts)
        for name in _imported(ast.parse(path.read_text(), str(rel)), module):
            parts = name.split(".")
            if parts[0] == "bot" and len(parts) > 1 and parts[1] in folders and parts[1] != here:
                line = f"{rel} imports {'.'.join(parts[:3])}"
                if line not in graph[here][parts[1]]:
                    graph[here][parts[1]].append(line)
    return graph


def loops(graph: Graph) -> list[list[str]]:
    """Each set of folders that reach one another (Tarjan's strongly connected components), as
    one loop through them, first folder repeated at the end: ["oncall", "records", "oncall"]."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            members = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                members.append(w)
                if w == v:
                    break
            if len(members) > 1:
                found.append(_cycle(graph, set(members)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _cycle(graph: Graph, members: set[str]) -> list[str]:
    """A path from the first member back to itself, inside `members` (shortest, breadth first)."""
    start = min(members)
    paths = [[start]]
    while paths:
        path = paths.pop(0)
        for nxt in sorted(graph.get(path[-1], {})):
            if nxt == start:
                return [*path, start]
            if nxt in members and nxt not in path:
                paths.append([*path, nxt])
    raise AssertionError(f"no loop through {sorted(members)}")


def describe(graph: Graph, loop: list[str]) -> str:
    steps = [f"{a} -> {b} ({graph[a][b][0]})" for a, b in zip(loop, loop[1:], strict=False)]
    return " -> ".join(loop) + ":\n    " + "\n    ".join(steps)


def test_bots_folders_form_layers_without_a_loop() -> None:
    graph = folder_graph(ROOT)
    assert len(graph) >= 10, "the walk found too few folders: is it reading bot/?"
    found = [describe(graph, loop) for loop in loops(graph)]
    assert not found, "bot/'s folders import each other in a loop:\n" + "\n".join(found)


def test_the_architecture_page_lists_the_layers_bottom_first_as_the_code_imports() -> None:
    """docs/architecture.md's table of folders: each row's "imports" are what the code imports,
    and only folders of the rows before it."""
    graph = folder_graph(ROOT)
    rows = re.findall(
        r"^\| `bot/(\w+)/` \|.*\| ([\w, ]+) \|$", (ROOT / "docs/architecture.md").read_text(), re.M
    )
    assert [folder for folder, _ in rows] and {folder for folder, _ in rows} == set(graph) | {"text"}, (
        "docs/architecture.md lists other folders than bot/ has"
    )
    seen: set[str] = set()
    for folder, said in rows:
        listed = set() if said == "nothing" else {name.strip() for name in said.split(",")}
        assert listed == set(graph.get(folder, {})), f"bot/{folder}/ imports {sorted(graph.get(folder, {}))}"
        assert listed <= seen, f"bot/{folder}/ imports {sorted(listed - seen)}, listed after it"
        seen.add(folder)


LONGEST = 600  # lines; a module past ~400 is asking to be split, past this it must be


def test_no_module_in_bot_is_longer_than_600_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in (ROOT / "bot").rglob("*.py")
        if "migrations" not in path.parts and (n := len(path.read_text().splitlines())) > LONGEST
    }
    assert not long, f"split these along the sections they mark: {long}"


def test_bot_never_imports_handlers() -> None:
    bad = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        rel = path.relative_to(ROOT)
        module = ".".join(rel.with_suffix("").parts)
        names = _imported(ast.parse(path.read_text(), str(rel)), module)
        bad += [f"{rel} imports {n}" for n in names if n == "handlers" or n.startswith("handlers.")]
    assert not bad, "\n".join(bad)


# Masking only ever hides more, and the name it writes is for people, never hashed or compared:
# so 0014 masks the keys it rewrites with today's bot/text, not a copy frozen in time.
LIVE_IN_MIGRATIONS = {"0014_intake.py": {"bot.text.outside"}}


def test_migrations_carry_frozen_copies_of_what_they_compute() -> None:
    bad = []
    for path in sorted((ROOT / "bot/store/migrations/versions").glob("*.py")):
        rel = path.relative_to(ROOT)
        module = ".".join(rel.with_suffix("").parts)
        names = {n for n in _imported(ast.parse(path.read_text(), str(rel)), module) if n.startswith("bot.")}
        allowed = LIVE_IN_MIGRATIONS.get(path.name, set())
        bad += [f"{rel} imports {n}" for n in sorted(names) if not any(n.startswith(a) for a in allowed)]
    assert not bad, "a migration computes with live code, which may change under it:\n" + "\n".join(bad)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_walk_finds_a_loop_around_three_folders_and_names_each_step(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "bot/__init__.py": "",
            **{f"bot/{d}/__init__.py": "" for d in ("alpha", "beta", "gamma", "delta")},
            "bot/alpha/one.py": "from bot.beta import two\n",
            "bot/beta/two.py": "def late():\n    from bot.gamma.three import x\n",
            "bot/gamma/three.py": "from ..alpha import one\n",  # relative, back to the start
            "bot/delta/four.py": "import bot.alpha.one\n",  # above the loop, not in it
        },
    )
    graph = folder_graph(root)
    found = loops(graph)
    assert found == [["alpha", "beta", "gamma", "alpha"]]
    said = describe(graph, found[0])
    assert "bot/beta/two.py imports bot.gamma.three" in said
    assert "bot/gamma/three.py imports bot.alpha.one" in said


def test_the_walk_passes_layers(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "bot/__init__.py": "",
            **{f"bot/{d}/__init__.py": "" for d in ("low", "mid", "top")},
            "bot/mid/m.py": "from bot.low import l\n",
            "bot/top/t.py": "from bot.mid import m\nfrom bot.low import l\n",
        },
    )
    assert loops(folder_graph(root)) == []
