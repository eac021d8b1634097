"""Every Python example in README.md and docs/*.md type-checks and runs as written.

The convention (README.md, "Writing docs", says the same to contributors):

* A fenced block tagged ``python`` is a complete example. ``mypy --strict``
  checks it with the project's settings, and this test runs it. It may use
  ``await``, ``async with`` and ``async for`` at top level, as in ``python -m
  asyncio``: such a block runs inside an event loop, once on asyncio and once
  on trio, and is type-checked as the body of an ``async def``.
* A block that cannot stand alone (it needs a package sweepcache does not
  depend on, or the reader's own code) is a MyST ``{code-block} python`` with
  ``:class: fragment``. It is neither checked nor run, so each one is listed
  in ``FRAGMENTS`` below with the reason; keep that list short.
* No other tag may hold Python (``py``, ``python3``, ``pycon``...), so that no
  example slips past unchecked.
* A block whose first line names a file (``# conftest.py``, ``# test_x.py``)
  is that file: when a page has test files, they are written to a folder
  together and run with pytest, so that example tests pass, not just import.

Errors point at the Markdown file and line: each snippet is written to a file
padded with blank lines so that its line numbers are the page's.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import subprocess
import sys
import textwrap
import types
from inspect import CO_COROUTINE
from pathlib import Path
from typing import Final

import anyio
import pytest

ROOT: Final = Path(__file__).resolve().parent.parent
PAGES: Final = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))

#: Fragments (``{code-block} python`` with ``:class: fragment``), by page and
#: first line of code, with why each cannot stand alone. A fragment missing
#: here fails the test, and so does an entry without its fragment.
FRAGMENTS: Final = {
    ("docs/integrations.md", "from collections.abc import AsyncIterator"): (
        "a FastAPI application: FastAPI is not a dependency of sweepcache or its tests"
    ),
    ("docs/integrations.md", "import anyio"): (
        "continues the FastAPI example above (its lifespan and caches)"
    ),
    ("docs/testing.md", "@pytest_asyncio.fixture"): (
        "the pattern that cannot work (shown to be avoided; tests/test_pytest_asyncio.py runs it)"
    ),
    ("docs/testing.md", "import asyncio"): (
        "runs under pytest-asyncio, which this page's AnyIO examples exclude; "
        "tests/test_pytest_asyncio.py runs the same fixture"
    ),
}

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_PYTHONISH = re.compile(r"^(py|python\d?|pycon|ipython|python-console)$")
#: Directives whose argument is a language and whose content is code.
_CODE = frozenset({"code-block", "code", "sourcecode"})
#: Directives whose content is not Markdown (so holds no fenced blocks).
_LITERAL = frozenset({"eval-rst", "math", "raw", "literalinclude", "include"})


@dataclasses.dataclass(frozen=True)
class Snippet:
    """One fenced Python block of a page."""

    page: Path
    #: Line number (1-based) of the block's first line of code.
    line: int
    source: str
    fragment: bool

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def module(self) -> str:
        """A module name for mypy, unique per snippet."""
        stem = re.sub(r"\W", "_", str(self.page.relative_to(ROOT)))
        return f"snippet_{stem}_L{self.line}"

    @property
    def first_line(self) -> str:
        return next(line for line in self.source.splitlines() if line.strip())

    @property
    def is_async(self) -> bool:
        """Whether it awaits at top level (so it must run inside an event loop)."""
        code = compile(self.source, self.name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        return bool(code.co_flags & CO_COROUTINE)

    def for_mypy(self) -> str:
        """The snippet as mypy should see it, on the page's line numbers.

        mypy accepts a top-level ``await`` once told to (``top-level-await``),
        but reports a top-level ``async with`` or ``async for`` as a syntax
        error: a snippet with one of those is checked as the body of an
        ``async def``, where its top-level names become locals, so the
        ``global`` statements of its functions become ``nonlocal``.
        """
        padding = "\n" * (self.line - 2)
        if not self.is_async:
            return "\n" + padding + self.source
        tree = compile(
            self.source, self.name, "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
        if not any(isinstance(node, (ast.AsyncWith, ast.AsyncFor)) for node in _top_level(tree)):
            return '# mypy: disable-error-code="top-level-await"\n' + padding + self.source
        body = re.sub(r"^(\s+)global ", r"\1nonlocal ", self.source, flags=re.MULTILINE)
        return padding + "async def __doc_snippet__() -> None:\n" + textwrap.indent(body, "    ")

    def compiled(self) -> types.CodeType:
        padded = "\n" * (self.line - 1) + self.source
        code: types.CodeType = compile(
            padded, str(self.page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
        return code


def _top_level(tree: ast.AST) -> list[ast.AST]:
    """The nodes of ``tree`` outside every function and class body."""
    found: list[ast.AST] = []
    pending = list(ast.iter_child_nodes(tree))
    while pending:
        node = pending.pop()
        found.append(node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            pending.extend(ast.iter_child_nodes(node))
    return found


def _closing(lines: list[str], index: int, fence: str) -> int:
    """Index of the line that closes ``fence``, opened just before ``index``."""
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if (
            match
            and match["fence"][0] == fence[0]
            and len(match["fence"]) >= len(fence)
            and not match["info"].strip()
        ):
            return index
        index += 1
    raise AssertionError(f"unclosed fence {fence!r}")


def _snippets(page: Path) -> list[Snippet]:
    """The fenced Python blocks of ``page``, those inside MyST directives included."""
    found: list[Snippet] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    directives: list[str] = []  # fences of the directives open around the current line
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        index += 1
        if match is None:
            continue
        fence, info = match["fence"], match["info"].strip()
        if not info:
            if directives and fence[0] == directives[-1][0] and len(fence) >= len(directives[-1]):
                directives.pop()
            continue
        directive = re.match(r"\{([\w-]+)\}\s*(.*)", info)
        language = directive[2].strip() if directive and directive[1] in _CODE else info
        if _PYTHONISH.match(language) and language != "python":
            raise AssertionError(f"{page.name}:{index}: tag Python blocks `python`, not {info!r}")
        if directive and directive[1] not in _CODE and directive[1] not in _LITERAL:
            directives.append(fence)  # its content is Markdown: keep scanning inside
            continue
        close = _closing(lines, index, fence)
        if language == "python":
            options: dict[str, str] = {}
            while directive and lines[index].startswith(":"):
                key, _, value = lines[index][1:].partition(":")
                options[key.strip()] = value.strip()
                index += 1
            while index < close and not lines[index].strip():
                index += 1
            source = textwrap.dedent("\n".join(lines[index:close])) + "\n"
            fragment = "fragment" in options.get("class", "").split()
            found.append(Snippet(page, index + 1, source, fragment))
        index = close + 1
    return found


SNIPPETS: Final = [snippet for page in PAGES for snippet in _snippets(page)]
CHECKED: Final = [snippet for snippet in SNIPPETS if not snippet.fragment]


def test_every_page_is_scanned_and_fragments_are_justified() -> None:
    readme = [s for s in SNIPPETS if s.page.name == "README.md"]
    assert len(readme) >= 3
    assert not [s for s in readme if s.fragment], "README.md is read on GitHub: no fragments"
    assert {s.page.name for s in CHECKED} >= {"README.md", "quickstart.md", "testing.md"}
    fragments = {(str(s.page.relative_to(ROOT)), s.first_line) for s in SNIPPETS if s.fragment}
    assert fragments == set(FRAGMENTS), "list each fragment in FRAGMENTS, with its reason"


def test_the_scanner_sees_what_myst_renders(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Text\n\n```python\nx = 1\n```\n\n"
        "````{note}\nInside a directive:\n\n```python\ny = 2\n```\n````\n\n"
        "```{code-block} python\n:class: fragment\n\nundefined_name\n```\n\n"
        "```console\n$ echo\n```\n",
        encoding="utf-8",
    )
    found = _snippets(page)
    assert [(s.line, s.source, s.fragment) for s in found] == [
        (4, "x = 1\n", False),
        (11, "y = 2\n", False),
        (18, "undefined_name\n", True),
    ]
    page.write_text("```py\nx = 1\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="tag Python blocks"):
        _snippets(page)


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """One ``mypy --strict`` run over every checked snippet: error lines by snippet."""
    folder = tmp_path_factory.mktemp("doc_snippets")
    for snippet in CHECKED:
        (folder / f"{snippet.module}.py").write_text(snippet.for_mypy(), encoding="utf-8")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--strict",
            "--cache-dir",
            str(ROOT / ".mypy_cache" / "doc-snippets"),
            "--no-error-summary",
            "--show-error-codes",
            *sorted(str(path) for path in folder.glob("*.py")),
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode in (0, 1), completed.stdout + completed.stderr
    errors: dict[str, list[str]] = {}
    for line in completed.stdout.splitlines():
        module, _, rest = line.partition(".py:")
        errors.setdefault(module, []).append(rest)
    return errors


@pytest.mark.parametrize("snippet", CHECKED, ids=[s.name for s in CHECKED])
def test_snippet_type_checks(snippet: Snippet, mypy_errors: dict[str, list[str]]) -> None:
    errors = mypy_errors.get(snippet.module, [])
    where = snippet.page.relative_to(ROOT)
    assert not errors, "mypy --strict:\n" + "\n".join(f"{where}:{error}" for error in errors)


RUNS: Final = [
    pytest.param(snippet, backend, id=f"{snippet.name}-{backend}" if backend else snippet.name)
    for snippet in CHECKED
    for backend in (("asyncio", "trio") if snippet.is_async else (None,))
]


@pytest.mark.parametrize(("snippet", "backend"), RUNS)
def test_snippet_runs(
    snippet: Snippet, backend: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    # A module of its own, as a script has: dataclasses, pickle and
    # typing.get_type_hints look their class's module up in sys.modules.
    module = types.ModuleType(snippet.module)
    module.__file__ = str(snippet.page)
    code = snippet.compiled()
    sys.modules[snippet.module] = module
    try:
        if backend is None:
            exec(code, module.__dict__)
        else:

            async def run() -> None:
                await eval(code, module.__dict__)

            anyio.run(run, backend=backend)
    finally:
        del sys.modules[snippet.module]


def _named_file(snippet: Snippet) -> str | None:
    match = re.fullmatch(r"#\s*(\w+\.py)\s*", snippet.first_line)
    return match[1] if match else None


TEST_PAGES: Final = sorted(
    {
        s.page
        for s in CHECKED
        if (_named_file(s) or "").startswith("test_") or _named_file(s) == "conftest.py"
    }
)


@pytest.mark.parametrize("page", TEST_PAGES, ids=[str(p.relative_to(ROOT)) for p in TEST_PAGES])
def test_example_test_files_pass_under_pytest(page: Path, tmp_path: Path) -> None:
    files = {name: s.source for s in CHECKED if s.page == page and (name := _named_file(s))}
    for name, source in files.items():
        (tmp_path / name).write_text(source, encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert re.search(r"\b[1-9]\d* passed\b", completed.stdout), completed.stdout
