"""How `--set` and AMLBATCH_* overrides are read: each value by its field's type, nesting and length
bounded, and every AMLBATCH_ variable either a field, a known setting, or an error."""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from typing import Any, Mapping

from engine.errors import ProfileError

MAX_DEPTH = 16  # arrays or tables nested deeper are refused (no profile field nests at all)
MAX_OVERRIDE = 4096  # characters in one override value
_INT = re.compile(r"^[+-]?[0-9](?:_?[0-9]){0,30}$")


def nesting_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply lists and tables nest in `value` (walked without recursion, stopping past `limit`)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_value(raw: str, kind: str = "str") -> Any:
    """An override value read by its field's type: text as written, a whole number only for a
    number field (decimal digits, `_` between them), a list as a TOML array (["a", "b"]) or as
    comma-separated text. What does not read as the type stays text, so the field's rule refuses it
    with the value as typed."""
    if kind == "int":
        return int(raw) if _INT.match(raw.strip()) else raw
    if kind == "list":
        stripped = raw.strip()
        if not stripped.startswith("["):
            return [part.strip() for part in raw.split(",") if part.strip()]
        try:
            value = tomllib.loads(f"v = {stripped}")["v"]
        except (tomllib.TOMLDecodeError, RecursionError):
            return raw
        return value if nesting_depth(value) <= MAX_DEPTH else raw
    return raw


# AMLBATCH_ variables that are settings rather than profile fields (README: Profiles, Development)
SETTINGS_VARIABLES = (
    "AMLBATCH_HOME",                # config and data under one folder (engine.paths)
    "AMLBATCH_TEST_BLOB_ENDPOINT",  # tests: the blob endpoint of the azure target (Azurite)
    "AMLBATCH_TEST_BLOB_CA",        # tests: the CA bundle for that endpoint
    "AMLBATCH_OUTPUT_ACTION",       # set by the batch runner for the scorer, read by scorer/score.py
    "AMLBATCH_TUI_BENCH_EXIT",      # benchmark: the wizard exits after its first paint
    "AMLBATCH_PRICES_URL",          # the retail prices API (engine.pricing_cache); "off" for no lookups
)


def field_variables(sections: Mapping[str, type]) -> list[str]:
    """Every AMLBATCH_<SECTION>_<KEY> variable a profile field takes, and AMLBATCH_TARGET."""
    names = ["AMLBATCH_TARGET"]
    for section, cls in sections.items():
        names += [f"AMLBATCH_{section}_{f.name}".upper() for f in dataclasses.fields(cls)]
    return names


def env_overrides(sections: Mapping[str, type], environ: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(dotted key, raw value, source) for every AMLBATCH_<SECTION>_<KEY> variable. A variable
    that names no section and no setting is refused with the closest name: a mistyped one must
    not be silently ignored."""
    found = []
    for name, raw in sorted(environ.items()):
        if not name.startswith("AMLBATCH_") or name in SETTINGS_VARIABLES:
            continue
        rest = name[len("AMLBATCH_"):].lower()
        if rest == "target":
            found.append(("target", raw, name))
            continue
        section, _, key = rest.partition("_")
        if section in sections and key:
            found.append((f"{section}.{key}", raw, name))
            continue
        options = field_variables(sections) + list(SETTINGS_VARIABLES)
        close = difflib.get_close_matches(name.upper(), options, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ProfileError(name, "", "names no profile field and no amlbatch setting" + hint)
    return found
