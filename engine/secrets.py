"""Keep secrets out of every event, log line and run record.

Known secret values (account keys, SAS tokens fetched at run time) are registered with
`remember()` and replaced wherever they appear; well-known secret shapes are masked too.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from typing import TypeVar

E = TypeVar("E")

_PATTERNS = [
    re.compile(r"(?i)(AccountKey|SharedAccessSignature|SharedAccessKey|sig|client_secret|password)"
               r"(\s*[=:]\s*)([^;&\s\"']+)"),
    re.compile(r"(?i)(Bearer)(\s+)([A-Za-z0-9\-_.~+/]+=*)"),
    re.compile(r"(?i)(\"?(?:key1|key2|primaryKey|secondaryKey|accessToken|access_token|refresh_token)\"?)"
               r"(\s*[=:]\s*\"?)([^\"\s,}]+)"),
]
_known: set[str] = set()
_lock = threading.Lock()
MASK = "***"


def remember(value: str) -> None:
    """Mask this exact value from now on (only values long enough not to hit ordinary text)."""
    if value and len(value) >= 8:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    if not text:
        return text
    for secret in list(_known):
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    return text


def redact_event(event: E) -> E:
    """The event with every secret masked in its text fields (the same event when it had none)."""
    changes = {}
    for name in ("message", "detail", "error"):
        value = getattr(event, name, None)
        if isinstance(value, str) and value:
            clean = redact(value)
            if clean != value:
                changes[name] = clean
    return dataclasses.replace(event, **changes) if changes else event
