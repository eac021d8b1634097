"""The core as it was before the features of this release, for same-run comparisons.

"A feature that is off costs nothing" can only be measured against the code
without the feature. The last commit before eviction, statistics, tags and
the removal paths' rework is taken from git history (``git archive``),
unpacked once into a temporary folder as the package ``sweepcache_before``
(its imports are relative), and measured beside today's code in the same run.
Where git or that commit is unavailable (an sdist), the contender is "n/a".
"""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

#: The 0.1.0 core: single-flight loading, @cached, the sweeper; no eviction,
#: statistics, tags, removal listener, or free-threaded layout.
COMMIT = "9e4a9d2"
ROOT = Path(__file__).resolve().parent.parent


def load() -> ModuleType | str:
    """Import ``sweepcache_before``; a reason string when it cannot be had."""
    target = Path(tempfile.gettempdir()) / f"sweepcache-before-{COMMIT}"
    package = target / "sweepcache_before"
    if not (package / "__init__.py").exists():
        try:
            archive = subprocess.run(
                ["git", "archive", "--format=tar", COMMIT, "src/sweepcache"],
                cwd=ROOT,
                capture_output=True,
                check=True,
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            return f"git history with commit {COMMIT} not available"
        unpacked = target / "unpacked"
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(unpacked, filter="data")
        (unpacked / "src" / "sweepcache").rename(package)
    if str(target) not in sys.path:
        sys.path.insert(0, str(target))
    return importlib.import_module("sweepcache_before")
