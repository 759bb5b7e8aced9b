"""Counted words, worded the same by the headless output and the wizard: "1 failed file"."""

from __future__ import annotations


def plural(count: int, word: str, many: str = "") -> str:
    """`word` for one, `many` (or word + "s") otherwise."""
    return word if count == 1 else (many or word + "s")


def counted(count: int, word: str, many: str = "") -> str:
    return f"{count:,} {plural(count, word, many)}"
