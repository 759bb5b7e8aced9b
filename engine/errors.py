"""Errors a user sees. Each carries a message fit to print as it is: no traceback reaches a user."""

from __future__ import annotations

import re


class AmlBatchError(Exception):
    """Base class: the message is the whole story for the user."""


class ProfileError(AmlBatchError):
    """A profile field (or override) breaks a rule. Printed as `source: field: rule`."""

    def __init__(self, source: str, field: str, rule: str):
        self.source, self.field, self.rule = source, field, rule
        shown = [_one_line(source, 200), _one_line(field, 200), _one_line(rule, 2000)]
        super().__init__(": ".join(part for part in shown if part))


def _one_line(text: str, limit: int) -> str:
    """Text as one printable line: control characters escaped, cut at `limit` characters."""
    text = re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], str(text))
    return text if len(text) <= limit else text[:limit - 3] + "..."


class StepError(AmlBatchError):
    """A step could not do its work; the message says what happened and what to do."""


class Canceled(AmlBatchError):
    """The user asked to stop; raised between operations."""

    def __init__(self, message: str = "canceled"):
        super().__init__(message)


class LockedError(AmlBatchError):
    """Another amlbatch process is running the same profile."""


class JobsRunningError(AmlBatchError):
    """A tear-down refused because scoring runs of the profile are still queued or running."""
