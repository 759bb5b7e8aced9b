"""Targets implement the steps of engine.steps: `local` on this machine, `azure` in the cloud.

Imported lazily so the local target never loads the Azure SDKs.
"""

from __future__ import annotations

from typing import Any


def create(profile: Any, emit: Any, cancel: Any) -> Any:
    if profile.target == "azure":
        from engine.targets.azure import AzureTarget

        return AzureTarget(profile, emit, cancel)
    from engine.targets.local import LocalTarget

    return LocalTarget(profile, emit, cancel)
