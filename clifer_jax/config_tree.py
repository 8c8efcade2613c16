"""Dotted paths into a tree of frozen dataclasses: list every leaf, set one from text.

    paths(cfg)                  # [("gdm_params.episodic.activity_threshold", 0.4, "float"), ...]
    cfg = set_path(cfg, "gdm_params.episodic.activity_threshold", "0.5")
    cfg = apply_sets(cfg, ["mlp.epochs=40", "seed=3"])

A leaf is a field that is not itself a dataclass. Text is parsed by the field's type
annotation: int, float, bool (true/false/1/0/yes/no), str, `Literal[...]`, optional
types ("none" gives None) and tuples (comma-separated). Setting a leaf rebuilds every
dataclass on the path, so each one's own validation runs (`__post_init__`, and
`check(path)` for pytree dataclasses such as `GWRParams`, which cannot validate on
construction: JAX rebuilds them with placeholders); an unknown path, a value of the wrong
type or a refused value raises ValueError naming the path. This is the project's one parser of
`PATH=VALUE` text: the study tree, a CAAEConfig alone, a sweep's grid.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from typing import Any, Literal


@functools.lru_cache(maxsize=None)
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _fields(obj) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(obj) if f.init]


def _is_tree(v) -> bool:
    return dataclasses.is_dataclass(v) and not isinstance(v, type)


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "|".join(str(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        return " or ".join(_type_name(a) for a in args) + (" or none" if optional else "")
    if origin is tuple:
        return f"{_type_name(typing.get_args(tp)[0])},..."
    return getattr(tp, "__name__", str(tp))


def paths(cfg, prefix: str = "") -> list[tuple[str, Any, str]]:
    """(dotted path, value, type name) of every leaf, in field order."""
    out = []
    hints = _hints(type(cfg))
    for f in _fields(cfg):
        v = getattr(cfg, f.name)
        p = f"{prefix}{f.name}"
        if _is_tree(v):
            out += paths(v, p + ".")
        else:
            out.append((p, v, _type_name(hints[f.name])))
    return out


def get_path(cfg, path: str):
    node = cfg
    for part in path.split("."):
        if not _is_tree(node) or part not in {f.name for f in _fields(node)}:
            raise ValueError(_unknown(cfg, path))
        node = getattr(node, part)
    return node


def _unknown(cfg, path: str) -> str:
    known = [p for p, _, _ in paths(cfg)]
    close = difflib.get_close_matches(path, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown config path {path!r}{hint} (`clifer config` lists every path)"


def parse(text: str, tp, path: str = "value"):
    """`text` as a value of type `tp` (see the module docstring)."""
    s = text.strip()
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if s.lower() in ("none", "null") and len(args) < len(typing.get_args(tp)):
            return None
        errors = []
        for a in args:
            try:
                return parse(s, a, path)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0])
    if origin is Literal:
        choices = typing.get_args(tp)
        if s not in [str(c) for c in choices]:
            raise ValueError(f"{path}: {s!r} is not one of {list(choices)}")
        return next(c for c in choices if str(c) == s)
    if origin is tuple:
        item = typing.get_args(tp)[0]
        return tuple(parse(p, item, path) for p in s.split(",") if p.strip()) if s else ()
    if tp is bool:
        low = s.lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"{path}: expected true or false, got {s!r}")
    if tp is int:
        try:
            return int(s)
        except ValueError:
            raise ValueError(f"{path}: expected an integer, got {s!r}") from None
    if tp is float:
        try:
            return float(s)
        except ValueError:
            raise ValueError(f"{path}: expected a number, got {s!r}") from None
    if tp is str:
        return s
    raise ValueError(f"{path}: cannot set a value of type {_type_name(tp)} from the command line")


def leaf_type(cfg, path: str):
    """The annotated type of the leaf at `path`."""
    *head, last = path.split(".")
    parent = get_path(cfg, ".".join(head)) if head else cfg
    if not _is_tree(parent) or last not in {f.name for f in _fields(parent)}:
        raise ValueError(_unknown(cfg, path))
    if _is_tree(getattr(parent, last)):
        raise ValueError(f"config path {path!r} is a group, not a value; set one of its leaves "
                         f"({', '.join(p for p, _, _ in paths(getattr(parent, last), path + '.'))})")
    return _hints(type(parent))[last]


def replace_path(cfg, path: str, value):
    """`cfg` with the leaf at `path` replaced by `value` (already typed); every dataclass on
    the path is rebuilt (and validates itself). Errors name the path."""
    leaf_type(cfg, path)                                  # unknown paths and groups refused
    parts = path.split(".")

    def rebuild(node, i):
        name = parts[i]
        new = value if i == len(parts) - 1 else rebuild(getattr(node, name), i + 1)
        out = dataclasses.replace(node, **{name: new})
        check = getattr(out, "check", None)
        if callable(check):
            check(".".join(parts[:i]) or type(out).__name__)     # errors name the path
        return out

    try:
        return rebuild(cfg, 0)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}={value!r} refused: {e}") from None


def set_path(cfg, path: str, text: str):
    """`cfg` with the leaf at `path` parsed from `text`."""
    return replace_path(cfg, path, parse(text, leaf_type(cfg, path), path))


def split_assignment(item: str) -> tuple[str, str]:
    if "=" not in item:
        raise ValueError(f"expected PATH=VALUE, got {item!r}")
    path, text = item.split("=", 1)
    return path.strip(), text


def apply_sets(cfg, items) -> Any:
    """Apply `PATH=VALUE` assignments in order."""
    for item in items or ():
        cfg = set_path(cfg, *split_assignment(item))
    return cfg


def to_dict(cfg) -> dict:
    """The whole tree as JSON-ready nested dicts (tuples as lists)."""
    def conv(v):
        if _is_tree(v):
            return {f.name: conv(getattr(v, f.name)) for f in _fields(v)}
        if isinstance(v, (tuple, list)):
            return [conv(x) for x in v]
        return v
    return conv(cfg)


def format_paths(cfg) -> str:
    """One line per leaf: `path = value  (type)`."""
    rows = paths(cfg)
    width = max(len(p) for p, _, _ in rows)
    fmt = lambda v: ",".join(map(str, v)) if isinstance(v, tuple) else ("none" if v is None else str(v))  # noqa: E731
    return "\n".join(f"{p:<{width}} = {fmt(v)}  ({t})" for p, v, t in rows)
