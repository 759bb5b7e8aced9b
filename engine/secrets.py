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

_SEP = r"(\s*(?:[=:]|%3[Dd]|%3[Aa])\s*(?:\"|%22)?\s*)"  # = or : (also URL-encoded), maybe a quote
_NAMES = (r"AccountKey|SharedAccessSignature|SharedAccessKey|client_secret|clientSecret|"
          r"AZURE_CLIENT_SECRET|client_assertion|password|passwd|secret|access_token|accessToken|"
          r"refresh_token|refreshToken|id_token|key1|key2|primaryKey|secondaryKey|"
          r"(?:(?<=%26)|(?<=%3[Ff])|(?<![A-Za-z0-9_]))sig")
# (pattern, keep the text before the secret): named values wherever they stand (connection strings,
# SAS query strings, JSON, environment dumps), then the shapes that are secrets on their own.
_PATTERNS = [
    (re.compile(r"(?i)((?:\"|%22)?(?:" + _NAMES + r")(?:\"|%22)?)" + _SEP + r"([^;&\s\"',}<>]+)"), True),
    (re.compile(r"(?i)(Bearer|SharedKey\s+[\w-]+:)(\s+|(?<=:))([A-Za-z0-9\-_.~+/]+=*)"), True),
    # a JWT (access, id and refresh tokens): three base64url parts, the first two JSON
    (re.compile(r"(?<![\w-])eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), False),
    # a storage account key: 64 bytes in base64 (88 characters ending ==), also URL-encoded
    (re.compile(r"(?<![A-Za-z0-9+/%])(?:[A-Za-z0-9+/]|%2[BbFf]){86,130}(?:==|%3[Dd]%3[Dd])"), False),
    # an Entra client secret as the portal makes them: 3 characters, a digit, "Q~", 31-34 more
    (re.compile(r"(?<![\w~.-])[\w.-]{3}\dQ~[\w~.-]{31,34}(?![\w~-])"), False),
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
    for pattern, keep in _PATTERNS:
        text = pattern.sub((lambda m: m.group(1) + m.group(2) + MASK) if keep else MASK, text)
    return text


def redact_event(event: E) -> E:
    """The event with every secret masked in its text fields (the same event when it had none)."""
    if not dataclasses.is_dataclass(event):
        return event
    changes = {}
    for item in dataclasses.fields(event):  # every text field: messages, details, errors, paths, URLs
        if item.name in ("type", "code"):  # the event's kind; a device code the user must type
            continue
        value = getattr(event, item.name, None)
        if isinstance(value, str) and value:
            clean = redact(value)
            if clean != value:
                changes[item.name] = clean
    return dataclasses.replace(event, **changes) if changes else event
