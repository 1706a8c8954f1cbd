"""What is wrong in a config file: one issue per problem, with its file, line and key path."""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ValidationError,
)

from bot.text.typed import closest

#: A key path inside a file: mapping keys (str) and list indices (int).
Loc = tuple[str | int, ...]

# --------------------------------------------------------------------------- issues


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """The config was refused; ``issues`` lists every problem found, str() one per line."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class Issues(ValueError):
    """Several problems from one validator, each at a loc relative to the value validated.

    Pydantic keeps the exception in the error's ctx, so the loader can report each one at its own
    key path instead of one message at the parent.
    """

    def __init__(self, found: Sequence[tuple[Loc, str]]) -> None:
        self.found = list(found)
        super().__init__("; ".join(f"{render_path(loc)}: {msg}" if loc else msg for loc, msg in self.found))


def render_path(loc: Loc) -> str:
    """``("areas", "data", "aliases", 0)`` -> ``areas.data.aliases[0]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    return closest(word, candidates)  # the one "did you mean" (bot/text/typed.py), said as a compiler says it


def quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in names)


# --------------------------------------------------------------------------- pydantic errors, said for people


def _unwrap(tp: Any) -> Any:
    """Strip Annotated[...] and `X | None` down to X."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            # `str | Rotation | None`: the model is what has keys to suggest.
            args = [arg for arg in get_args(tp) if arg is not type(None)]
            tp = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), args[0])
        else:
            return tp


def _fields_by_key(model: type[BaseModel]) -> dict[str, Any]:
    """A model's fields by the key written in the file (its alias: `from`, not `from_`)."""
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class validating the value at ``loc``, for "did you mean" on unknown keys."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = _fields_by_key(tp).get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) in (dict, list):
            tp = get_args(tp)[-1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _message(error: Mapping[str, Any], root: type[BaseModel]) -> str:
    """A pydantic error in the words of someone editing the YAML."""
    kind, loc, value = error["type"], tuple(error["loc"]), error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        allowed = list(_fields_by_key(model)) if model else []
        guess = did_you_mean(str(loc[-1]), allowed)
        if guess:
            return f"unknown key (did you mean {guess!r}?)"
        return f"unknown key (expected one of: {', '.join(allowed)})" if allowed else "unknown key"
    if kind == "missing":
        # A field's description, where it has one, says what is expected there.
        model = _model_at(root, loc[:-1])
        described = _fields_by_key(model).get(str(loc[-1])) if model else None
        return (
            f"is required: {described.description}" if described and described.description else "is required"
        )
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind == "string_type":
        return f"expected text, got {kind_of(value)}"
    if kind == "list_type":
        return f"expected a list, got {kind_of(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping, got {kind_of(value)}"
    if kind == "literal_error":
        return f"{value!r} is not one of {ctx.get('expected')}"
    if kind == "too_short":
        return "must not be empty"
    return str(error["msg"])


def validation_issues(exc: ValidationError, root: type[BaseModel]) -> list[tuple[Loc, str]]:
    found: list[tuple[Loc, str]] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        inner = (error.get("ctx") or {}).get("error")
        if isinstance(inner, Issues):
            found.extend(((*loc, *sub), msg) for sub, msg in inner.found)
        else:
            found.append((loc, _message(error, root)))
    return found
