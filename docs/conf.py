"""Sphinx configuration for the sweepcache documentation.

Build with ``make docs`` (``sphinx-build -n -W --keep-going``): nitpicky, and
every warning is an error. The build is offline: intersphinx reads small local
inventories compiled from ``docs/_inv/*.txt`` (see :func:`_compile_inventories`).
"""

from __future__ import annotations

import importlib
import inspect
import re
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from sphinx.ext.intersphinx import missing_reference as intersphinx_missing_reference

import sweepcache

if TYPE_CHECKING:
    from docutils.nodes import Node, TextElement
    from sphinx.addnodes import pending_xref
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"


def _write_if_changed(path: Path, data: bytes) -> None:
    # Rewriting an unchanged file would make Sphinx rebuild the page each time.
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


project = "sweepcache"
author = "sweepcache developers"
copyright = "2025, sweepcache developers"
release = sweepcache.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    # Marks async functions and methods as ``await``/``async with`` in signatures.
    "sphinxcontrib_trio",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
# _generated/ holds files made by this conf.py, pulled in by {include}, never
# built as pages of their own.
exclude_patterns = ["_build", "_generated", "_inv", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"sweepcache {release}"

# -- autodoc / napoleon --------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False}
# Signatures carry the types; docstrings do not repeat them (STYLE.md).
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# Show the private alias for ``ttl`` parameters by name everywhere, instead of
# its expansion ``float | None | Literal[_Default.TTL]`` in some signatures
# and the bare name in others; api.md says what it stands for.
autodoc_type_aliases = {"TTLArg": "TTLArg"}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- intersphinx, offline ------------------------------------------------------

INVENTORIES = {
    "python": "https://docs.python.org/3/",
    "anyio": "https://anyio.readthedocs.io/en/stable/",
    "trio": "https://trio.readthedocs.io/en/stable/",
}


def _compile_inventories() -> dict[str, tuple[str, str]]:
    """Compile ``_inv/<name>.txt`` into ``_generated/_inv/<name>.inv``.

    The build runs offline (CI, ``make test``), so the real ``objects.inv``
    files cannot be downloaded. Each ``.txt`` lists, in the uncompressed
    objects.inv v2 line format (``name domain:role priority uri dispname``),
    just the targets these docs refer to; add a line when a new reference to
    Python, AnyIO or trio fails to resolve.
    """
    out = GENERATED / "_inv"
    out.mkdir(parents=True, exist_ok=True)
    mapping: dict[str, tuple[str, str]] = {}
    for name, url in INVENTORIES.items():
        lines = [
            line
            for line in (DOCS / "_inv" / f"{name}.txt").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ]
        header = (
            f"# Sphinx inventory version 2\n# Project: {name}\n# Version: \n"
            "# The remainder of this file is compressed using zlib.\n"
        )
        body = zlib.compress(("\n".join(lines) + "\n").encode("utf-8"))
        target = out / f"{name}.inv"
        data = header.encode("utf-8") + body
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
        mapping[name] = (url, str(target.relative_to(DOCS)))
    return mapping


intersphinx_mapping = _compile_inventories()

# -- nitpicky: names that cannot resolve ---------------------------------------

nitpicky = True
# Type variables of the generic API (``Cache[K, V]``, ``get(key, default: D)``,
# ``cached``'s ``P``/``R``, ``__aenter__(self: _CacheT) -> _CacheT``). Sphinx
# renders them as class references, but a TypeVar has no page to link to.
# A pattern rather than a list: the private modules that define them move.
nitpick_ignore_regex = [
    ("py:class", r"(sweepcache\.\w+\.)?(K|V|D|P|P2|R|S|_\w+T)"),
    # ``*args: P.args, **kwargs: P.kwargs`` of ParamSpec ``P``, and the way Sphinx
    # spells a ParamSpec inside ``Callable[P, ...]`` (``typing.~P``).
    ("py:class", r"P2?\.(args|kwargs)"),
    ("py:obj", r"typing\.~P2?"),
]
nitpick_ignore = [
    # Napoleon reads the summary of CacheStats.expirations_by ("Expired entries
    # reclaimed, by reclaimer: ...") as a type; the docs branch fixes it properly.
    ("py:class", "Expired entries reclaimed"),
    ("py:class", "by reclaimer"),
    # Third-party classes in the web integrations' signatures: no offline inventory.
    ("py:class", "starlette.requests.HTTPConnection"),
    ("py:class", "starlette.applications.Starlette"),
    ("py:class", "fastapi_cache.types.Backend"),
    # ``float | None | DEFAULT_TTL``, a private alias for the ``ttl`` parameters;
    # api.md and each docstring say what the values mean.
    ("py:class", "TTLArg"),
    ("py:class", "sweepcache._cache.TTLArg"),
]

#: Names that the source imports only under ``if TYPE_CHECKING:``. autodoc
#: cannot evaluate them, so signatures show the bare name; link each to its
#: real home (through the intersphinx inventories) instead of ignoring it.
TYPE_CHECKING_NAMES = {
    "Awaitable": "collections.abc.Awaitable",
    "Callable": "collections.abc.Callable",
    "Iterable": "collections.abc.Iterable",
    "Mapping": "collections.abc.Mapping",
    "TaskGroup": "anyio.abc.TaskGroup",
    "TaskStatus": "anyio.abc.TaskStatus",
    "TracebackType": "types.TracebackType",
    "AbstractAsyncContextManager": "contextlib.AbstractAsyncContextManager",
    "Collection": "collections.abc.Collection",
    "Hashable": "collections.abc.Hashable",
}


def _resolve_type_checking_name(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: TextElement
) -> Node | None:
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    if target in TYPE_CHECKING_NAMES:
        node["reftarget"] = TYPE_CHECKING_NAMES[target]
        return intersphinx_missing_reference(app, env, node, contnode)
    name = target.removeprefix("sweepcache.")
    if name in sweepcache.__all__ and target == name:
        # A private module's docstring naming an export (``:func:`cached```).
        return env.get_domain("py").resolve_xref(
            env, node["refdoc"], app.builder, node["reftype"], f"sweepcache.{name}", node, contnode
        )
    if name in DECORATOR_HELPERS:
        # Docstrings name these as if ``sweepcache`` exported them.
        return env.get_domain("py").resolve_xref(
            env,
            node["refdoc"],
            app.builder,
            node["reftype"],
            f"{DECORATOR_HELPERS_MODULE}.{name}",
            node,
            contnode,
        )
    return None


# -- helpers of @cached that sweepcache does not export (yet) --------------------

DECORATOR_HELPERS_MODULE = "sweepcache._decorators"


def _decorator_helpers() -> list[str]:
    """Public names defined in ``sweepcache._decorators`` but not exported.

    ``sweepcache.cached`` returns and documents objects (``CachedFunction``,
    ``default_key_builder``...) that its module defines; as long as
    ``sweepcache`` does not export them, the API page documents them from
    that module (``_generated/api_helpers.md``) so that references resolve.
    Once they are exported, ``automodule:: sweepcache`` documents them and
    this list is empty.
    """
    try:
        module = importlib.import_module(DECORATOR_HELPERS_MODULE)
    except ImportError:
        return []
    exported = {id(getattr(sweepcache, name)) for name in sweepcache.__all__}
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == DECORATOR_HELPERS_MODULE
        and id(obj) not in exported
    ]


def _generate_api_helpers() -> None:
    lines = ["% Generated by docs/conf.py; do not edit.\n"]
    if DECORATOR_HELPERS:
        lines += [
            "## Helpers of `cached`\n",
            "{func}`sweepcache.cached` builds and returns these; they are not "
            "importable from `sweepcache` itself.\n",
            "```{eval-rst}",
        ]
        for name in DECORATOR_HELPERS:
            obj = getattr(importlib.import_module(DECORATOR_HELPERS_MODULE), name)
            kind = "autoclass" if inspect.isclass(obj) else "autofunction"
            lines += [f".. {kind}:: {DECORATOR_HELPERS_MODULE}.{name}"]
            if kind == "autoclass":
                lines += ["   :members:", "   :special-members: __call__"]
            lines += [""]
        lines += ["```\n"]
    _write_if_changed(GENERATED / "api_helpers.md", "\n".join(lines).encode("utf-8"))


DECORATOR_HELPERS = _decorator_helpers()
_generate_api_helpers()


def setup(app: Sphinx) -> None:
    app.connect("missing-reference", _resolve_type_checking_name)


# -- benchmark results ---------------------------------------------------------

BENCH_RESULTS = ROOT / "bench" / "results"
#: Suites in the order the benchmarks page shows their plots, with a caption
#: each; plots of any other suite follow in name order.
BENCH_SUITES = {
    "latency": "Hot-path latency of get/set against the floors, the seed design and the peers.",
    "contention": "Throughput and latency with many tasks on one cache.",
    "stampede": "Concurrent misses on the same keys: loader calls and latency.",
    "threads": "Worker threads using the *_nowait API.",
    "sweeper": "Event-loop stalls and reclaim delay while the sweeper works.",
    "memory": "Bytes per entry beyond keys and values.",
}


#: ``](target)`` of a Markdown link or image whose target is a bare relative path.
_RELATIVE_LINK = re.compile(r"\]\((?:\./)?([^)\s/#:]+)\)")


def _generate_benchmark_results() -> None:
    """Write ``_generated/bench/results.md`` from ``bench/results/``.

    ``make bench`` writes ``bench/results/summary.md`` and one PNG plot per
    suite (maybe raw data files too). Whatever exists at build time is shown,
    and the page says how to produce results otherwise, so the docs build
    with or without them. ``summary.md`` is copied into ``results.md`` beside
    copies of the other result files rather than included from
    ``bench/results/``: an ``{include}`` nested in another include resolves
    the summary's relative image paths against the wrong directory.
    """
    target = GENERATED / "bench"
    page = target / "results.md"
    target.mkdir(parents=True, exist_ok=True)
    results = (
        sorted(p for p in BENCH_RESULTS.iterdir() if p.is_file() and not p.name.startswith("."))
        if BENCH_RESULTS.is_dir()
        else []
    )
    names = {p.name for p in results if p.name != "summary.md"}
    for stale in target.iterdir():
        if stale != page and stale.name not in names:
            stale.unlink()
    for result in results:
        if result.name in names:
            _write_if_changed(target / result.name, result.read_bytes())

    summary = BENCH_RESULTS / "summary.md"
    summary_text = summary.read_text(encoding="utf-8") if summary.is_file() else ""
    order = list(BENCH_SUITES)
    plots = sorted(
        (p for p in results if p.suffix == ".png" and p.name not in summary_text),
        key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem),
    )
    parts = ["% Generated by docs/conf.py from bench/results/; do not edit.\n"]
    if summary_text:
        # Point relative links and images at the copies: links in an included
        # file resolve against the including page, not the file itself.
        parts.append(
            _RELATIVE_LINK.sub(
                lambda m: f"](/_generated/bench/{m[1]})" if m[1] in names else m[0], summary_text
            )
        )
    if plots:
        parts.append("# Plots\n")
    for plot in plots:  # those the summary does not embed itself
        caption = BENCH_SUITES.get(plot.stem, f"The {plot.stem} suite.")
        parts.append(
            f"## `{plot.stem}`\n\n"
            f"```{{figure}} /_generated/bench/{plot.name}\n:alt: {plot.stem} benchmark plot\n\n"
            f"{caption}\n```\n"
        )
    if len(parts) == 1:
        parts.append(
            "No results yet: run `make bench` (or `make bench QUICK=1`), then rebuild the docs.\n"
        )
    _write_if_changed(page, "\n".join(parts).encode("utf-8"))


_generate_benchmark_results()
