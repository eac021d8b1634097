"""Import the documentation's code snippets (``docs/snippets/*.py``) as modules."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

SNIPPETS = Path(__file__).resolve().parent.parent / "docs" / "snippets"


def snippet(name: str) -> ModuleType:
    """Import ``docs/snippets/<name>.py`` (freshly: each test gets new module state)."""
    if str(SNIPPETS) not in sys.path:
        sys.path.insert(0, str(SNIPPETS))
    sys.modules.pop(name, None)
    return importlib.import_module(name)
