"""Errors a user sees. Each carries a message fit to print as it is: no traceback reaches a user."""

from __future__ import annotations


class AmlBatchError(Exception):
    """Base class: the message is the whole story for the user."""


class ProfileError(AmlBatchError):
    """A profile field (or override) breaks a rule. Printed as `source: field: rule`."""

    def __init__(self, source: str, field: str, rule: str):
        self.source, self.field, self.rule = source, field, rule
        super().__init__(": ".join(part for part in (source, field, rule) if part))


class StepError(AmlBatchError):
    """A step could not do its work; the message says what happened and what to do."""


class Canceled(AmlBatchError):
    """The user asked to stop; raised between operations."""

    def __init__(self, message: str = "canceled"):
        super().__init__(message)


class LockedError(AmlBatchError):
    """Another amlbatch process is running the same profile."""
