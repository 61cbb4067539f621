"""No state in module globals: what the service keeps between requests belongs to objects the
app owns (``app.state``: the query engine, the authenticator, the pool, ...), so two apps
in one process (the tests make hundreds) share nothing and a reader finds it in one place.

Every module of api/, schema/, resolvers/ and db/ is imported and each name its own code
binds at module level is looked at. State is:

- a container of a kind made to change (``Counter``, ``OrderedDict``, ``deque``, a
  ``cachetools`` cache, a lock, a counter from ``itertools.count``...);
- a dict, list or set under a name that is not a constant's (UPPER_CASE), or under a
  constant's name that code anywhere in those packages changes (``NAME[k] = v``,
  ``NAME.append(...)``, ``del NAME[k]``, ``NAME += ...``);
- an instance of one of the project's classes that is not frozen (a frozen dataclass, a
  tuple or an enum);

and so is any ``global`` statement. ``__all__`` is the one list allowed: tools read it.
"""

from __future__ import annotations

import ast
import asyncio
import collections
import enum
import importlib
import itertools
import threading
from pathlib import Path
from typing import Any

import cachetools

ROOT = Path(__file__).parent.parent
PACKAGES = ("api", "schema", "resolvers", "db")

ALLOWED: dict[tuple[str, str], str] = {
    ("schema.build", "schema"): "the GraphQL schema, built once at import: types and resolvers; "
    "what is kept between requests is the app's QueryEngine's",
}
"""Module-level objects that are not constants, each with why it may stay."""

STATEFUL = (
    collections.Counter,
    collections.OrderedDict,
    collections.defaultdict,
    collections.deque,
    collections.ChainMap,
    cachetools.Cache,
    asyncio.Lock,
    asyncio.Semaphore,
    asyncio.Event,
    threading.Lock().__class__,
    itertools.count,
)
PLAIN = (dict, list, set, bytearray)
MUTATORS = frozenset(
    {"append", "extend", "insert", "remove", "pop", "popitem", "clear", "update", "setdefault", "add", "discard"}
)


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return found


def _bound_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        for target in targets:
            names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names - {"__all__"}


def _changed_names(tree: ast.Module) -> set[str]:
    """Names whose value the code changes in place, by bare name or as ``module.NAME``."""

    def name_of(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        return node.attr if isinstance(node, ast.Attribute) else None

    changed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for target in targets:
                if isinstance(target, ast.Subscript):
                    changed.add(name_of(target.value))
                elif isinstance(node, ast.AugAssign):
                    changed.add(name_of(target))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
            changed.add(name_of(node.func.value))
    return {name for name in changed if name is not None}


def _frozen(value: Any) -> bool:
    params = getattr(type(value), "__dataclass_params__", None)
    return isinstance(value, tuple | enum.Enum) or (params is not None and params.frozen)


def _is_state(value: Any, name: str, changed: set[str]) -> bool:
    if isinstance(value, STATEFUL):
        return True
    if isinstance(value, PLAIN):
        return not name.lstrip("_").isupper() or name in changed
    return type(value).__module__.split(".")[0] in PACKAGES and not _frozen(value)


def _state() -> tuple[list[str], list[str]]:
    modules = [(name, ast.parse(path.read_text())) for name, path in _modules()]
    changed = set().union(*(_changed_names(tree) for _, tree in modules))
    found, globals_ = [], []
    for name, tree in modules:
        module = importlib.import_module(name)
        globals_ += [f"{name}: global {', '.join(n.names)}" for n in ast.walk(tree) if isinstance(n, ast.Global)]
        for bound in sorted(_bound_names(tree)):
            value = getattr(module, bound, None)
            if _is_state(value, bound, changed) and (name, bound) not in ALLOWED:
                found.append(f"{name}.{bound}: {type(value).__qualname__}")
    return found, globals_


def test_no_module_level_mutable_state() -> None:
    found, globals_ = _state()
    assert found == [], "module-level state; move it to an object the app owns:\n" + "\n".join(found)
    assert globals_ == [], "\n".join(globals_)


def test_the_rule_sees_state() -> None:
    """The walk finds each kind of state it looks for, in a module written for the purpose."""
    tree = ast.parse("SEEN = {}\ndef see(k):\n    SEEN[k] = 1\nCACHE.append(1)\nTOTAL += 1\nkept = []\n")
    assert _changed_names(tree) == {"SEEN", "CACHE", "TOTAL"}
    assert _bound_names(tree) == {"SEEN", "kept"}
    assert _is_state(collections.Counter(), "COUNTS", set()) and _is_state({}, "kept", set())
    assert _is_state({}, "SEEN", {"SEEN"}) and not _is_state({}, "TABLE", {"SEEN"})
    assert not _is_state((1,), "kept", set()) and not _is_state(frozenset(), "kept", set())
