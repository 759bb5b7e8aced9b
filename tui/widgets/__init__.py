"""The app's own widgets, one per private module, loaded on first use (start-up stays fast)."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "FieldInput": "_field",
    "Histogram": "_histogram",
    "SearchTable": "_search_table",
    "StepChecklist": "_checklist",
    "Glyphs": "_checklist",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
