"""Config as code: load ownership.yaml and severity.yaml, substitute ``${VAR}``, validate strictly.

Every problem is reported as ``file:line key.path: message`` and all problems of both files are
collected before :class:`ConfigError` is raised, so one ``baton check`` run shows everything.

How: the YAML is composed into a node tree (not loaded), so each key keeps its line and duplicate
keys can be caught (PyYAML's loader silently keeps the last one). The plain data built from it goes
through two checks side by side: the pydantic models (bot/config/models.py) check shapes, types
and formats, and :func:`ownership_issues` / :func:`severity_issues` (bot/config/checks.py) check
references across the file (unknown people, clashing aliases, ...). The cross-file checks run on
the raw data rather than after the models, so a typo in one area does not hide an unknown person
in another; the models also run them when built directly, so an invalid config cannot be
constructed either way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from bot.config import yamlerrors
from bot.config.checks import ownership_issues, severity_issues
from bot.config.issues import ConfigError, ConfigIssue, Loc, render_path, validation_issues
from bot.config.models import PRECHECKED, OwnershipConfig, SeverityConfig

_M = TypeVar("_M", bound=BaseModel)

# --------------------------------------------------------------------------- YAML with line numbers

_MERGE_TAG = "tag:yaml.org,2002:merge"
# ${VAR} is substituted; $${VAR} is an escape for a literal ${VAR}.
_ENV_RE = re.compile(r"(\$?)\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Builder:
    """Turns a composed YAML node tree into plain data, remembering each key path's line."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.lines: dict[Loc, int] = {}
        # (loc, message, line): a duplicate key is reported at its own line, not the first one's.
        self.found: list[tuple[Loc, str, int | None]] = []
        self._scalars = yaml.constructor.SafeConstructor()
        self._open: set[int] = set()  # collections being built, to stop at recursive anchors
        # Where ${VAR}s were filled in: (loc, text as written, text after, [(VAR, value)]).
        self.substituted: list[tuple[Loc, str, str, list[tuple[str, str]]]] = []

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self._open:
                self.found.append((loc, "an anchor cannot contain an alias to itself", None))
                return None
            self._open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, loc)
                return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
            finally:
                self._open.discard(id(node))
        try:
            value = self._scalars.construct_object(node)
        except yaml.YAMLError as exc:
            self.found.append((loc, f"cannot read this value: {getattr(exc, 'problem', exc)}", None))
            return None
        return self._substitute(value, loc) if isinstance(value, str) else value

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.found.append((loc, "keys must be plain text", line))
                continue
            # The key as written: PyYAML would turn `on:` into True and `1:` into 1.
            key = str(key_node.value)
            if key in out:
                self.found.append(
                    ((*loc, key), f"duplicate key (first defined on line {first_line[key]})", line)
                )
                continue
            first_line[key] = line
            self.lines[(*loc, key)] = line
            out[key] = self.build(value_node, (*loc, key))
        # `<<: *defaults` merges: keys written out in this mapping win, as in YAML 1.1.
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    self.found.append((loc, "'<<' must merge a mapping or a list of mappings", None))
                    continue
                for key, value in self._mapping(source, loc).items():
                    out.setdefault(key, value)
        return out

    def _substitute(self, text: str, loc: Loc) -> str:
        used: list[tuple[str, str]] = []

        def replace(match: re.Match[str]) -> str:
            escaped, name = match.groups()
            if escaped:
                return match.group(0)[1:]
            if name in self.env:
                used.append((name, self.env[name]))
                return self.env[name]
            self.found.append((loc, f"environment variable {name} is not set", None))
            return match.group(0)

        result = _ENV_RE.sub(replace, text)
        if used:
            self.substituted.append((loc, text, result, used))
        return result

    def redact(self, loc: Loc, message: str) -> str:
        """The message with every value taken from the environment shown as its ${VAR}.

        Environment values are where secrets live (routing keys, webhook URLs with tokens), and
        a config error is printed and logged. Values substituted at or under ``loc`` are replaced
        whatever their length; others (a cross-reference message may quote another key's value)
        only when long enough not to be mistaken for ordinary words.
        """
        swaps: list[tuple[str, str]] = []
        for at, written, value, used in self.substituted:
            related = at[: len(loc)] == loc
            if len(used) == 1 and written == f"${{{used[0][0]}}}":
                shown, described = written, f"the value of {written}"
            else:  # text around the variables: show it as written
                shown, described = written, repr(written)
            swaps.append((repr(value), described))
            swaps += [(v, f"${{{name}}}") for name, v in used if v and (related or len(v) >= 4)]
            if value and (related or len(value) >= 4):
                swaps.append((value, shown))
        # Longest first: a whole value before the variables inside it.
        for secret, replacement in sorted(swaps, key=lambda swap: -len(swap[0])):
            message = message.replace(secret, replacement)
        return message


def _line_for(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    """The line of a key path, or of its nearest ancestor that is in the file (missing keys)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _load_file(
    path: str | Path,
    model: type[_M],
    cross_checks: Callable[[Mapping[str, Any]], list[tuple[Loc, str]]],
    env: Mapping[str, str],
) -> tuple[_M | None, list[ConfigIssue], dict[Loc, int]]:
    """The model (None if refused), every problem, and the line of each key path."""
    name = os.fspath(path)

    def refused(found: yamlerrors.Found) -> tuple[None, list[ConfigIssue], dict[Loc, int]]:
        return None, [ConfigIssue(name, found.line, "", found.message)], {}

    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return None, [ConfigIssue(name, None, "", "file not found")], {}
    except OSError as exc:
        return None, [ConfigIssue(name, None, "", f"cannot read: {exc.strerror or exc}")], {}
    try:
        # As read_text would: universal newlines, so lines count as an editor counts them.
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        return refused(yamlerrors.not_utf8(raw, exc))
    required = [key for key, spec in model.model_fields.items() if spec.is_required()]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        return refused(yamlerrors.syntax(exc, text))
    except yaml.YAMLError as exc:
        return None, [ConfigIssue(name, None, "", f"YAML cannot read this file: {exc}")], {}
    if node is None:
        return refused(yamlerrors.empty(required))
    shape = yamlerrors.not_a_mapping(node, text, required)
    if shape is not None:
        return refused(shape)

    builder = _Builder(env)
    data = builder.build(node, ())
    found: list[tuple[Loc, str]] = cross_checks(data) if isinstance(data, dict) else []
    config: _M | None = None
    try:
        config = model.model_validate(data, context={PRECHECKED: True})
    except ValidationError as exc:
        found += validation_issues(exc, model)

    # A value the reader already complained about (unset ${VAR}, recursive anchor) would only
    # fail validation as a consequence: report the cause alone.
    read_errors = {loc for loc, _, _ in builder.found}
    found = [(loc, msg) for loc, msg in found if not any(loc[: len(bad)] == bad for bad in read_errors)]
    issues: list[ConfigIssue] = []
    located = [*builder.found, *((loc, message, None) for loc, message in found)]
    for loc, message, line in located:
        message = builder.redact(loc, message)
        issue = ConfigIssue(name, line or _line_for(builder.lines, loc), render_path(loc), message)
        if issue not in issues:
            issues.append(issue)
    issues.sort(key=lambda issue: (issue.line or 0, issue.path))
    return (None if issues else config), issues, builder.lines


# --------------------------------------------------------------------------- public entry point


@dataclass(frozen=True)
class Config:
    """Both files, validated, and where they came from (for reloads)."""

    ownership: OwnershipConfig
    severity: SeverityConfig
    ownership_path: Path
    severity_path: Path
    ownership_lines: Mapping[Loc, int] = field(default_factory=dict)
    severity_lines: Mapping[Loc, int] = field(default_factory=dict)

    def line(self, path: str | Path, loc: Loc) -> int | None:
        """The line of a key path (or its nearest ancestor) in ownership.yaml or severity.yaml."""
        lines = self.severity_lines if Path(path) == self.severity_path else self.ownership_lines
        return _line_for(lines, loc)

    def where(self, loc: Loc) -> str:
        """`ownership.yaml:17 areas.model-quality.accountable`, for notes about the file."""
        line = _line_for(self.ownership_lines, loc)
        at = f"{self.ownership_path}:{line}" if line is not None else str(self.ownership_path)
        return f"{at} {render_path(loc)}"


def load_config(
    *,
    ownership_path: str | Path,
    severity_path: str | Path,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Load, substitute and validate both files; raise ConfigError listing every problem in both."""
    environment = os.environ if env is None else env
    ownership, ownership_problems, lines = _load_file(
        ownership_path, OwnershipConfig, ownership_issues, environment
    )
    severity, severity_problems, severity_lines = _load_file(
        severity_path, SeverityConfig, severity_issues, environment
    )
    if ownership is None or severity is None:
        raise ConfigError([*ownership_problems, *severity_problems])
    return Config(
        ownership=ownership,
        severity=severity,
        ownership_path=Path(ownership_path),
        severity_path=Path(severity_path),
        ownership_lines=lines,
        severity_lines=severity_lines,
    )
