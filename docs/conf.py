"""Sphinx configuration for the sweepcache documentation.

Build with ``make docs`` (``sphinx-build -n -W --keep-going``): nitpicky, and
every warning is an error. The build is offline: intersphinx reads small local
inventories compiled from ``docs/_inv/*.txt`` (see :func:`_compile_inventories`).
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sphinx.ext.intersphinx import missing_reference as intersphinx_missing_reference
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.inspect import signature as sphinx_signature

import sweepcache

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

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
    # Marks async functions and methods as ``await``/``async with`` in signatures.
    "sphinxcontrib_trio",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
# _generated/ holds files made by this conf.py, pulled in by {include}, never
# built as pages of their own.
exclude_patterns = ["_build", "_generated", "_inv", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "deflist", "substitution"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"sweepcache {release}"
html_static_path = ["_static"]
html_css_files = ["sweepcache.css"]
# A figure shown smaller than its PNG (``:width:``) links to the full-size image.
html_scaled_image_link = True

# -- autodoc / napoleon --------------------------------------------------------

# api.md lists every class's members in the order it shows them, with the
# ``api-class`` directive below: exported names carry ``__module__ =
# "sweepcache"``, so autodoc cannot read the order from the defining module.
autodoc_member_order = "bysource"
autodoc_default_options: dict[str, Any] = {}
# Signatures carry the types; docstrings do not repeat them.
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# Show the alias for ``ttl`` parameters by name everywhere, instead of its
# expansion ``float | timedelta | None | Literal[_Default.TTL]``.
autodoc_type_aliases = {"TTLArg": "sweepcache.TTLArg"}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- intersphinx, offline ------------------------------------------------------

INVENTORIES = {
    "python": "https://docs.python.org/3/",
    "anyio": "https://anyio.readthedocs.io/en/stable/",
    "trio": "https://trio.readthedocs.io/en/stable/",
    "opentelemetry": "https://opentelemetry-python.readthedocs.io/en/stable/",
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
nitpick_ignore_regex = [
    ("py:class", r"(sweepcache(\.\w+)*\.)?(K|V|D|P|P2|R|S|_\w+T)"),
    # coredis publishes no inventory that an offline build could use.
    ("py:class", r"coredis\..*"),
    # Neither does prometheus_client (its docs are not built with Sphinx).
    ("py:class", r"prometheus_client\..*"),
    # A dataclass field's ``Mapping[str, int]``, split at its comma by autodoc.
    ("py:class", r"(collections\.abc\.)?Mapping\[str"),
    # ``*args: P.args, **kwargs: P.kwargs`` of ParamSpec ``P``, and the way Sphinx
    # spells a ParamSpec inside ``Callable[P, ...]`` (``typing.~P``).
    ("py:class", r"P2?\.(args|kwargs)"),
    ("py:obj", r"typing\.~P2?"),
]
nitpick_ignore = [
    # Third-party classes in the web integrations' signatures: no offline inventory.
    ("py:class", "starlette.requests.HTTPConnection"),
    ("py:class", "starlette.applications.Starlette"),
    ("py:class", "fastapi_cache.types.Backend"),
]

#: Names that the source imports only under ``if TYPE_CHECKING:``. autodoc
#: cannot evaluate them, so signatures show the bare name; link each to its
#: real home (through the intersphinx inventories) instead of ignoring it.
TYPE_CHECKING_NAMES = {
    "Awaitable": "collections.abc.Awaitable",
    "Callable": "collections.abc.Callable",
    "Coroutine": "collections.abc.Coroutine",
    "Generator": "collections.abc.Generator",
    "Hashable": "collections.abc.Hashable",
    "Iterable": "collections.abc.Iterable",
    "Mapping": "collections.abc.Mapping",
    "Meter": "opentelemetry.metrics.Meter",
    "TaskGroup": "anyio.abc.TaskGroup",
    "TaskStatus": "anyio.abc.TaskStatus",
    "TracebackType": "types.TracebackType",
    "AbstractAsyncContextManager": "contextlib.AbstractAsyncContextManager",
    "Collection": "collections.abc.Collection",
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
    if target in sweepcache.__all__:
        # A docstring naming an export by its bare name (``:class:`RemovalCause```).
        return env.get_domain("py").resolve_xref(
            env,
            node["refdoc"],
            app.builder,
            node["reftype"],
            f"sweepcache.{target}",
            node,
            contnode,
        )
    return None


# -- API page: explicit member order, a summary table per class ----------------

LOGGER = logging.getLogger("sweepcache.docs")

#: How the summary tables show the special methods that api.md lists;
#: ``{self}`` is the instance's usual name (``INSTANCE_NAMES``).
SPECIAL_NAMES = {
    "__contains__": "key in {self}",
    "__len__": "len({self})",
    "__aenter__": "async with {self}",
    "__aexit__": "async with {self} (exit)",
    "__call__": "{self}(...)",
    "__await__": "await {self}",
    "__bool__": "bool({self})",
    "__sub__": "later - earlier",
}
INSTANCE_NAMES = {"CachedFunction": "func", "CachedMethod": "obj.method", "FakeClock": "clock"}


def _constructor_signatures() -> None:
    """Show ``__init__``'s parameters for a class whose ``__new__`` only forwards keywords.

    ``Cache.__new__(cls, *, on_removal=None, record_stats=False, **_)`` picks
    the variant class an instance is built from; autodoc would show that
    signature rather than the constructor's real one.
    """
    for name in sweepcache.__all__:
        cls = getattr(sweepcache, name)
        if not (isinstance(cls, type) and "__new__" in vars(cls) and "__init__" in vars(cls)):
            continue
        new = inspect.signature(cls.__new__).parameters.values()
        if any(parameter.kind is parameter.VAR_KEYWORD for parameter in new):
            cls.__signature__ = sphinx_signature(  # type: ignore[attr-defined]
                cls.__init__, bound_method=True, type_aliases=autodoc_type_aliases
            )


_constructor_signatures()


def _attribute_docs() -> dict[tuple[str, str], list[str]]:
    """``#:`` comments of every class attribute in sweepcache's own modules.

    autodoc looks for them in the module that ``__module__`` names, which for
    an exported class is ``sweepcache`` (its ``__init__.py`` only re-exports),
    so it finds none: read them from the modules that define the classes.
    """
    docs: dict[tuple[str, str], list[str]] = {}
    for info in pkgutil.iter_modules(sweepcache.__path__, "sweepcache."):
        docs.update(ModuleAnalyzer.for_module(info.name).find_attr_docs())
    return docs


ATTRIBUTE_DOCS = _attribute_docs()


def _public_members(cls: type) -> set[str]:
    """Public names that the class and its sweepcache base classes define.

    A named tuple's fields are left out: their docstrings only say "Alias for
    field number 0", so the class docstring describes them instead.
    """
    fields = set(getattr(cls, "_fields", ()))
    return {
        name
        for base in cls.__mro__
        if getattr(base, "__module__", "").startswith("sweepcache")
        for name in vars(base)
        if not name.startswith("_") and name not in fields
    }


def _summary(cls: type, name: str) -> str:
    """The first sentence of a member's documentation."""
    doc = inspect.getdoc(inspect.getattr_static(cls, name, None)) if name in vars(cls) else None
    if doc is None or doc == inspect.getdoc(type(getattr(cls, name, None))):
        lines = ATTRIBUTE_DOCS.get((cls.__qualname__, name))
        doc = " ".join(lines or [])
        if not doc:
            member = getattr(cls, name, None)
            doc = inspect.getdoc(member) or ""
    text = " ".join(doc.split("\n\n", 1)[0].split())
    match = re.match(r"(.+?\.)(\s|$)", text)
    return match.group(1) if match else text


def _summary_table(cls: type, full_name: str, members: list[str]) -> list[str]:
    """A reST table: one row per member, linked, with its first sentence."""
    if not members:
        return []
    lines = [".. rubric:: Members", "", ".. list-table::", "   :class: api-summary", ""]
    for name in members:
        member = inspect.getattr_static(cls, name, None)
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if isinstance(member, property) or not callable(member):
            role, label = "attr", name
        else:
            role = "meth"
            instance = INSTANCE_NAMES.get(cls.__name__, cls.__name__.lower())
            label = SPECIAL_NAMES.get(name, f"{name}()").format(self=instance)
            if inspect.iscoroutinefunction(member) and name in {"__call__"} | {
                n for n in vars(cls) if not n.startswith("_")
            }:
                label = f"await {label}"
        lines += [
            f"   * - :py:{role}:`{label} <{full_name}.{name}>`",
            f"     - {_summary(cls, name)}",
        ]
    return [*lines, ""]


def _fill_attribute_docs(
    app: Sphinx, what: str, name: str, obj: object, options: Any, lines: list[str]
) -> None:
    """Give an exported class's attribute its ``#:`` comment (see :func:`_attribute_docs`)."""
    if what in {"attribute", "data"} and not lines and name.startswith("sweepcache."):
        owner, _, attribute = name.removeprefix("sweepcache.").rpartition(".")
        lines.extend(ATTRIBUTE_DOCS.get((owner, attribute), []))


class ApiClass(SphinxDirective):
    """``.. api-class:: sweepcache.Cache`` with ``:members: a, b, c``: a class, in that order.

    autodoc takes members in source order from the module that ``__module__``
    names; for an exported class that is ``sweepcache/__init__.py``, which
    only re-exports, so autodoc falls back to alphabetical order. This
    directive documents the class (``autoclass``), then a summary table of
    the members, then each member with its own ``automethod`` /
    ``autoproperty`` / ``autoattribute``, in the order given, as trio's
    reference docs do. It warns (failing the build) when a public member of
    the class is missing from the list, so a new method cannot go
    undocumented.
    """

    required_arguments = 1
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        "members": lambda text: [name.strip() for name in text.replace("\n", " ").split(",")]
    }

    def run(self) -> list[Node]:
        full_name = self.arguments[0]
        module_name, _, class_name = full_name.rpartition(".")
        cls = getattr(importlib.import_module(module_name), class_name)
        members: list[str] = [m for m in self.options.get("members", []) if m]
        missing = sorted(_public_members(cls) - set(members))
        if missing:
            LOGGER.warning(
                "%s: public members missing from :members: in api.md: %s",
                full_name,
                ", ".join(missing),
                location=self.get_location(),
            )
        lines = [f".. autoclass:: {full_name}", ""]
        lines += [f"   {line}" for line in _summary_table(cls, full_name, members)]
        for name in members:
            member = inspect.getattr_static(cls, name)
            if isinstance(member, property):
                kind = "autoproperty"
            elif callable(member) or isinstance(member, (staticmethod, classmethod)):
                kind = "automethod"
            else:
                kind = "autoattribute"
            lines += [f"   .. {kind}:: {full_name}.{name}", ""]
        return self.parse_text_to_nodes("\n".join(lines))


def _keep_property_summaries(
    app: Sphinx, what: str, name: str, obj: object, options: Any, lines: list[str]
) -> None:
    """Stop napoleon from reading a property's ``summary: details`` as ``type: description``.

    Napoleon takes the text before the first colon of a property docstring for
    its type ("Expired entries reclaimed, by reclaimer: ``"read"``..." would
    render as a type named "Expired entries reclaimed, by reclaimer"). An
    empty reST comment first makes it take the whole docstring as the
    description (it skips blank lines, so a blank line would not do).
    """
    if what == "property" and lines and re.search(r"\w: \S", lines[0]):
        lines[:0] = ["..", ""]


def _no_private_paths(app: Sphinx, exception: Exception | None) -> None:
    """Fail the build if a page names a private module (``sweepcache._cache``)."""
    if exception is not None or app.builder.format != "html":
        return
    private = re.compile(r"sweepcache\._[a-z]")
    for page in Path(app.outdir).rglob("*.html"):
        found = private.search(page.read_text(encoding="utf-8"))
        if found:
            LOGGER.warning(
                "%s names a private module (%s...)", page.relative_to(app.outdir), found[0]
            )


def _every_export_documented(app: Sphinx, env: BuildEnvironment) -> None:
    """Warn (and so fail the build) for a public name the API page does not document."""
    documented = set(env.get_domain("py").objects)  # type: ignore[attr-defined]
    for module_name in ("sweepcache", "sweepcache.testing", "sweepcache.compat"):
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if f"{module_name}.{name}" not in documented:
                LOGGER.warning("%s.%s is exported but not documented in api.md", module_name, name)


def setup(app: Sphinx) -> None:
    app.connect("missing-reference", _resolve_type_checking_name)
    app.connect("autodoc-process-docstring", _keep_property_summaries, priority=400)
    app.connect("autodoc-process-docstring", _fill_attribute_docs)
    app.add_directive("api-class", ApiClass)
    app.connect("env-check-consistency", _every_export_documented)
    app.connect("build-finished", _no_private_paths)


# -- benchmark results ---------------------------------------------------------

#: Full runs only: ``make bench QUICK=1`` writes to bench/results-quick/, which
#: the docs never show.
BENCH_RESULTS = ROOT / "bench" / "results"
#: Caption of each suite's plot, in the order the benchmarks page shows them.
BENCH_CAPTIONS = {
    "hotpath": "Nanoseconds per get hit and per set of a new key, median and interquartile "
    "range, log scale (the contenders span two orders of magnitude).",
    "contention": "Throughput of N tasks sharing one cache, median and min-max of the repeats. "
    "Each contender keeps its colour in every panel; a backend panel lists only the "
    "contenders that run on it.",
    "stampede": "Loader calls (the single-flight ideal is one per key) and p99 latency of "
    "1,000 concurrent misses on 100 keys with a 20 ms loader.",
    "threads": "Worker threads calling the *_nowait API.",
    "sweeper": "Left: how late a 1 ms heartbeat wakes while the sweeper (or a naive scan) "
    "works, median of the runs with their min-max. Right: time until every expired key "
    "was reclaimed, in sweep intervals.",
    "memory": "Bytes per entry beyond keys and values, and RSS under write-once churn.",
}

#: ``](target)`` of a Markdown link or image whose target is a bare relative path.
_RELATIVE_LINK = re.compile(r"\]\((?:\./)?([^)\s/#:]+)\)")
#: The first table after the "## Summary" heading.
_SUMMARY_TABLE = re.compile(r"(^## Summary\n(?:(?!\|).*\n)*)((?:\|.*\n)+)", re.MULTILINE)
#: A Markdown image alone on its line: ``![alt](suite.png)``.
_IMAGE_LINE = re.compile(r"^!\[([^\]]*)\]\((?:\./)?([^)\s/#:]+)\.png\)$", re.MULTILINE)


def _figure(stem: str, alt: str) -> str:
    caption = BENCH_CAPTIONS.get(stem, alt)
    return (
        f"```{{figure}} /_generated/bench/{stem}.png\n:alt: {alt}\n:width: 100%\n\n"
        f"{caption} Click the plot for the full-size image.\n```"
    )


def _generate_benchmark_results() -> None:
    """Write ``_generated/bench/results.md`` from ``bench/results/``.

    ``make bench`` writes ``bench/results/summary.md``, one JSON file and one
    PNG plot per suite. Whatever exists at build time is shown, and the page
    says how to produce results otherwise, so the docs build with or without
    them. ``summary.md`` is copied into ``results.md`` beside copies of the
    plots rather than included from ``bench/results/``: an ``{include}``
    nested in another include resolves the summary's relative image paths
    against the wrong directory. Its images become figures with a caption,
    shown at the page's width and linked to the full-size PNG.
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
    parts = ["% Generated by docs/conf.py from bench/results/; do not edit.\n"]
    if summary_text:
        text = _IMAGE_LINE.sub(lambda m: _figure(m[2], m[1]), summary_text)
        # The headline table gets a class of its own: its cells may wrap.
        text = _SUMMARY_TABLE.sub(
            lambda m: f"{m[1]}````{{container}} bench-summary\n{m[2]}````\n", text, count=1
        )
        # Point relative links at the copies: links in an included file
        # resolve against the including page, not the file itself.
        parts.append(
            _RELATIVE_LINK.sub(
                lambda m: f"](/_generated/bench/{m[1]})" if m[1] in names else m[0], text
            )
        )
    else:
        parts.append("No results yet: run `make bench`, then rebuild the docs.\n")
    _write_if_changed(page, "\n".join(parts).encode("utf-8"))


_generate_benchmark_results()


# -- figures quoted in the prose, read from bench/results/ ------------------------


def _bench_json(suite: str) -> dict[str, Any] | None:
    path = BENCH_RESULTS / f"{suite}.json"
    if not path.is_file():
        return None
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def _rows(suite: str, **match: object) -> Iterator[dict[str, Any]]:
    result = _bench_json(suite)
    for row in result["rows"] if result else ():
        if "na" not in row and all(row.get(k) == v for k, v in match.items()):
            yield row


def _bench_substitutions() -> dict[str, str]:
    """Figures the prose quotes (``{{ sweeper_stall_ms }}``), from the committed results.

    A page never hard-codes a measured number: it names one of these, so the
    text follows the next full ``make bench`` run. Without results each
    reads "n/a".
    """
    values = dict.fromkeys(
        (
            "sweeper_keys",
            "sweeper_stall_ms",
            "sweeper_stall_worst_ms",
            "sweeper_runs",
            "sweeper_reclaim_intervals",
            "hotpath_get_ratio",
            "hotpath_get_nowait_ratio",
            "bench_date",
            "eviction_cells",
            "eviction_peer_within",
            "eviction_peer_worst",
            "maxsize_set_ratio",
            "maxsize_evicting_ratio",
            "maxsize_get_ratio",
            "maxsize_memory_b",
            "unbounded_memory_b",
            *(
                f"threads_{build}_{workload}"
                for build in ("gil", "ft")
                for workload in ("disjoint_90", "zipf_100", "zipf_90")
            ),
        ),
        "n/a",
    )
    # Two threads over one, sweepcache at 16 shards, per build and workload.
    for stem, build in (("threads", "gil"), ("threads-ft", "ft")):
        for key_mode, mix, workload in (
            ("disjoint", "90/10", "disjoint_90"),
            ("shared Zipf", "100/0", "zipf_100"),
            ("shared Zipf", "90/10", "zipf_90"),
        ):
            for row in _rows(stem, keys=key_mode, mix=mix, contender="sweepcache shards=16"):
                values[f"threads_{build}_{workload}"] = f"{row['speed-up 2']:.2f}x"
    sweeper = list(_rows("sweeper", role="sweepcache"))
    if sweeper:
        interval = (_bench_json("sweeper") or {})["parameters"]["sweep_interval_s"]
        worst = [(r.get("stall_max_range_s") or [0.0, r["stall_max_s"]])[1] for r in sweeper]
        reclaim = [r["reclaim_s"] for r in sweeper if r.get("reclaim_s") is not None]
        values["sweeper_keys"] = f"{max(r['keys'] for r in sweeper):,}"
        values["sweeper_runs"] = str(max(r.get("repeats", 1) for r in sweeper))
        values["sweeper_stall_ms"] = f"{max(r['stall_max_s'] for r in sweeper) * 1e3:.2f}"
        values["sweeper_stall_worst_ms"] = f"{max(worst) * 1e3:.2f}"
        if reclaim:
            values["sweeper_reclaim_intervals"] = f"{max(reclaim) / interval:.2f}"
    hotpath = [r for r in _rows("hotpath") if r["contender"] == "sweepcache Cache"]
    if hotpath:
        ratios = [r["get hit ratio"] for r in hotpath]
        values["hotpath_get_ratio"] = f"{min(ratios):.2f}-{max(ratios):.2f}"
    nowait = [r for r in _rows("hotpath") if r["contender"] == "sweepcache *_nowait"]
    if nowait:
        ratios = [r["get hit ratio"] for r in nowait]
        values["hotpath_get_nowait_ratio"] = f"{min(ratios):.2f}-{max(ratios):.2f}"
    values.update(_bounded_substitutions())
    started = [
        (_bench_json(s) or {}).get("meta", {}).get("started") for s in ("sweeper", "hotpath")
    ]
    if any(started):
        values["bench_date"] = max(s for s in started if s)[:10]
    return values


def _bounded_substitutions() -> dict[str, str]:
    """The bounded cache's figures: hit ratio beside theine, set cost, memory per entry."""
    values: dict[str, str] = {}
    margins = []
    references = ("sweepcache", "exact LRU", "Belady")
    for row in _rows("eviction"):
        ratios = row["hit_ratio"]
        ours = ratios.get("sweepcache Cache(maxsize)")
        peers = [
            (ratio, name)
            for name, ratio in ratios.items()
            if isinstance(ratio, float) and not name.startswith(references)
        ]
        if isinstance(ours, float) and peers:
            best, name = max(peers)
            where = f"{row['workload']} at {row['size']}, beside {name}"
            margins.append(((ours - best) * 100, where))
    if margins:
        worst, where = min(margins)
        values["eviction_cells"] = str(len(margins))
        values["eviction_peer_within"] = str(sum(margin >= -1.0 for margin, _ in margins))
        values["eviction_peer_worst"] = f"{worst:+.1f} points, {where}"
    hotpath = list(_rows("hotpath"))
    for contender, op, name in (
        ("sweepcache maxsize", "set new", "maxsize_set_ratio"),
        ("sweepcache maxsize, evicting", "set new", "maxsize_evicting_ratio"),
        ("sweepcache maxsize", "get hit", "maxsize_get_ratio"),
    ):
        ratios = []
        for row in hotpath:
            if row["contender"] != contender:
                continue
            for base in hotpath:
                if base["contender"] == "sweepcache Cache" and base["backend"] == row["backend"]:
                    ratios.append(row[op]["median"] / base[op]["median"])
        if ratios:
            low, high = f"{min(ratios):.1f}", f"{max(ratios):.1f}"
            values[name] = f"{low}x" if low == high else f"{low}-{high}x"
    for contender, name in (
        ("sweepcache maxsize", "maxsize_memory_b"),
        ("sweepcache Cache", "unbounded_memory_b"),
    ):
        for row in _rows("memory", contender=contender):
            values[name] = f"{row['per_entry_B']:.0f}"
    return values


myst_substitutions = _bench_substitutions()
