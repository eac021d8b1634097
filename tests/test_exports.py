"""The public surface: ``__all__`` of ``sweepcache`` and its public submodules.

The modules are ``sweepcache``, ``sweepcache.compat``, ``sweepcache.redis``,
``sweepcache.testing``, and ``sweepcache.metrics`` with its exporters (their
extras are in the test extra).

In the manner of anyio's ``test_all_attributes`` and trio's ``test_exports``,
for each public module:

* ``__all__`` is a tuple without duplicates, sorted as ruff's RUF022 sorts it
  (constants, then classes, then the rest; natural order within each), and every name in it exists,
  has a docstring (a type alias, which cannot carry one, is described on the
  API page instead) and, for a class or function, has ``__module__`` set to the
  public module (so reprs, tracebacks, pickles and the API page read ``sweepcache.Cache``);
* every public name the module defines (``def``, ``class``, assignment) or
  re-exports with ``from ._x import Name as Name`` is in ``__all__``; the
  package root, which only re-exports, may hold no other public attribute.

The names are discovered, not listed, so new exports are covered as they land.
"""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
import pickle
import re
import typing
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import pytest

PUBLIC_MODULES: Final = (
    "sweepcache",
    "sweepcache.compat",
    "sweepcache.redis",
    "sweepcache.testing",
    "sweepcache.metrics",
    "sweepcache.metrics.prometheus",
    "sweepcache.metrics.otel",
    "sweepcache.asgi",
    "sweepcache.fastapi",
)
API_PAGE: Final = Path(__file__).resolve().parent.parent / "docs" / "api.md"

#: Names that must be found, so that a broken discovery cannot pass vacuously.
KNOWN: Final = {
    "sweepcache": {"Cache", "DEFAULT_TTL", "TTLArg", "CachedFunction", "cached"},
    "sweepcache.compat": {"AsyncInMemoryCache", "user_cache"},
    "sweepcache.redis": {"RedisCache", "TieredCache", "JSONSerializer", "L2Error"},
    "sweepcache.testing": {"FakeClock"},
    "sweepcache.metrics": {"METRICS", "Metric", "StatsSource"},
    "sweepcache.metrics.prometheus": {"CacheCollector"},
    "sweepcache.metrics.otel": {"CacheInstruments"},
    "sweepcache.asgi": {"CacheMiddleware", "CachedResponse", "ResponseKey"},
    "sweepcache.fastapi": {"CacheDependency", "FastAPICacheBackend", "lifespan", "running"},
}


def all_sort_key(name: str) -> tuple[int, list[tuple[int, int | str]]]:
    """Ruff's RUF022 ("isort-style") order for ``__all__``, which ``make lint`` enforces."""
    if len(name) > 1 and name.isupper():
        kind = 0  # SCREAMING_CASE constant
    elif name[:1].isupper():
        kind = 1  # CamelCase class
    else:
        kind = 2
    natural = [
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part
    ]
    return kind, natural


def is_public(name: str) -> bool:
    return not name.startswith("_") and name != "annotations"


def source_bindings(module: ModuleType) -> set[str]:
    """Public names bound at the top level of ``module``'s source.

    Counts ``def``, ``class`` and assignments (also inside top-level ``if`` and
    ``try``), and explicit re-exports ``from .x import Name as Name``; plain
    imports are implementation details and are not counted.
    """
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                if isinstance(node.target, ast.Name):
                    names.add(node.target.id)
            elif isinstance(node, ast.ImportFrom) and node.level > 0:
                names.update(alias.asname for alias in node.names if alias.asname == alias.name)
            elif isinstance(node, ast.If):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody):
                    visit(block)
                for handler in node.handlers:
                    visit(handler.body)

    visit(tree.body)
    return {name for name in names if is_public(name)}


def exported(*, classes_and_functions: bool = False) -> list[Any]:
    """One pytest param per ``module.name`` in every public ``__all__``."""
    params: list[Any] = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name, None)
            if classes_and_functions and not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            qualified = f"{module_name}.{name}"
            params.append(pytest.param(module_name, name, id=qualified))
    return params


def test_all_sort_key_matches_ruff() -> None:
    names = ["cached", "Cache", "DEFAULT_TTL", "K", "a10", "a2", "FakeClock", "AsyncInMemoryCache"]
    assert sorted(names, key=all_sort_key) == [
        "DEFAULT_TTL",
        "AsyncInMemoryCache",
        "Cache",
        "FakeClock",
        "K",
        "a2",
        "a10",
        "cached",
    ]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_a_sorted_tuple(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exports = module.__all__
    assert isinstance(exports, tuple)
    assert list(exports) == sorted(exports, key=all_sort_key)
    assert len(set(exports)) == len(exports)
    assert all(isinstance(name, str) and is_public(name) for name in exports)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_defined_names_are_exported(module_name: str) -> None:
    module = importlib.import_module(module_name)
    defined = source_bindings(module)
    assert KNOWN[module_name] <= defined
    missing = defined - set(module.__all__)
    assert not missing, f"{module_name} defines public names missing from __all__: {missing}"


def test_package_root_holds_only_exports() -> None:
    """``sweepcache`` is a re-export module: every public attribute is in ``__all__``."""
    import sweepcache

    public = {
        name
        for name, value in vars(sweepcache).items()
        if is_public(name) and not isinstance(value, ModuleType)
    }
    assert KNOWN["sweepcache"] <= public
    assert public <= set(sweepcache.__all__), public - set(sweepcache.__all__)


@pytest.mark.parametrize(("module_name", "name"), exported())
def test_export_exists_and_is_documented(module_name: str, name: str) -> None:
    module = importlib.import_module(module_name)
    assert hasattr(module, name), f"{module_name}.__all__ names missing {name!r}"
    value = getattr(module, name)
    if typing.get_origin(value) is not None:
        # A type alias (``TTLArg``): its docstring would be that of typing's
        # class, so the API page must describe it.
        assert f".. py:type:: {name}" in API_PAGE.read_text(encoding="utf-8")
        return
    doc = inspect.getdoc(value)
    assert doc, f"{module_name}.{name} has no docstring"
    assert doc.strip()


@pytest.mark.parametrize(("module_name", "name"), exported(classes_and_functions=True))
def test_exported_classes_and_functions_name_their_public_module(
    module_name: str, name: str
) -> None:
    value = getattr(importlib.import_module(module_name), name)
    assert value.__module__ == module_name
    assert value.__qualname__ == name
    if inspect.isclass(value):
        kind = "enum" if isinstance(value, enum.EnumMeta) else "class"
        qualified = name if kind == "enum" else f"{module_name}.{name}"
        assert repr(value) == f"<{kind} '{qualified}'>"
    # Pickle finds classes and functions by module and name: the public path must lead back.
    assert pickle.loads(pickle.dumps(value)) is value


def test_enum_members_pickle_through_the_public_module() -> None:
    from sweepcache import DEFAULT_TTL, RemovalCause

    for member in RemovalCause:
        assert pickle.loads(pickle.dumps(member)) is member
    assert b"sweepcache\nRemovalCause" in pickle.dumps(RemovalCause.EXPIRED, protocol=0)
    assert pickle.loads(pickle.dumps(DEFAULT_TTL)) is DEFAULT_TTL
