"""The registry of targets: `local` (this machine) and `azure` (the cloud), by name.

A target is registered as "module:Class" and imported only when built, so the local target never
loads the Azure SDKs. A profile's `target` field takes exactly the names registered here.
"""

from __future__ import annotations

import importlib
from typing import Any

_REGISTRY: dict[str, Any] = {
    "local": "engine.targets.local.target:LocalTarget",
    "azure": "engine.targets.azure.target:AzureTarget",
}


def names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def register(name: str, target: Any) -> None:
    """Add a target: a Target subclass or its "module:Class" path."""
    _REGISTRY[name] = target


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def target_class(name: str) -> Any:
    """The Target subclass registered as `name` (imported now)."""
    try:
        found = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no target '{name}' (known: {', '.join(_REGISTRY)})") from None
    if isinstance(found, str):
        module, _, attr = found.partition(":")
        found = getattr(importlib.import_module(module), attr)
    return found


def build(profile: Any, emit: Any, cancel: Any) -> Any:
    """The profile's target, ready to run steps and jobs."""
    return target_class(profile.target)(profile, emit, cancel)
