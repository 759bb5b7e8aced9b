"""The provisioning steps, their order and what each needs, and what a step reports (Check, Done).

Both targets run this graph; each implements one engine.contract.Step per key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from engine.events import NO_CHANGE


@dataclass(frozen=True)
class StepSpec:
    key: str
    title: str
    needs: tuple[str, ...] = ()


STEPS: tuple[StepSpec, ...] = (
    StepSpec("resource_group", "Resource group"),
    StepSpec("workspace", "Workspace", ("resource_group",)),
    StepSpec("compute", "Compute cluster", ("workspace",)),
    # blob data roles (the cluster's identity, and yours if you lack one) before any blob is touched
    StepSpec("access", "Data access roles", ("workspace", "compute")),
    StepSpec("containers", "Storage containers", ("workspace", "access")),
    StepSpec("upload", "Data upload", ("containers",)),
    StepSpec("datastores", "Datastores", ("containers",)),
    StepSpec("assets", "Environment, model and code", ("workspace",)),
    StepSpec("endpoint", "Batch endpoint", ("workspace",)),
    StepSpec("deployment", "Deployment", ("endpoint", "assets", "compute", "datastores")),
    StepSpec("schedule", "Schedule", ("deployment", "upload")),
)
STEP_KEYS = tuple(s.key for s in STEPS)
TITLES = {s.key: s.title for s in STEPS}


def reversed_graph(graph: tuple[StepSpec, ...] = STEPS) -> tuple[StepSpec, ...]:
    """Tear-down order: a step runs once everything that needed it is gone."""
    dependents: dict[str, list[str]] = {s.key: [] for s in graph}
    for spec in graph:
        for need in spec.needs:
            dependents[need].append(spec.key)
    return tuple(StepSpec(s.key, s.title, tuple(dependents[s.key])) for s in reversed(graph))


@dataclass
class Check:
    """What a step found. plan: create | update | delete | none | skip | fail."""

    plan: str
    detail: str = ""
    value: Any = None  # handed to apply and to the steps that depend on this one
    # --adopt: re-tag what this profile takes over, run after apply (apply may put the found tags back)
    takeover: tuple[Callable[[], None], ...] = ()
    takeover_only: bool = False  # nothing but the re-tagging to do: apply is not called

    @property
    def changes(self) -> bool:
        return self.plan in ("create", "update", "delete")


@dataclass
class Done:
    outcome: str  # created | updated | exists | skipped | deleted
    detail: str = ""
    value: Any = None


def none(detail: str, value: Any = None) -> Check:
    return Check(NO_CHANGE, detail, value)


NO_SCHEDULE = "no schedule asked for"  # not "already gone": there never was one


def delete_check(what: str, found: bool, ours: bool, detail: str = "", value: Any = None) -> Check:
    """Tear-down's one rule, on both targets: delete only what exists and this profile made."""
    if not found:
        return Check("skip", f"{what} already gone")
    if not ours:
        return Check("skip", f"kept {what}: not created by this profile")
    return Check("delete", detail or what, value)


def delete_uploaded(mine: list[str], container: str, value: Any) -> Check:
    """Tear-down of the profile's uploaded blobs on both targets (when their container stays)."""
    from engine.words import counted

    if not mine:
        return Check("skip", "no uploaded data of this profile")
    return Check("delete", f"{counted(len(mine), 'uploaded blob')} in {container}", value)


def delete_containers(mine: list[str], kept: list[str], value: Any) -> Check:
    """Tear-down of the profile's containers on both targets: `mine` go with their blobs, `kept` says
    which stay and why."""
    if not mine:
        return Check("skip", "; ".join(kept) or "no container created by this profile")
    return Check("delete", "; ".join(["containers " + ", ".join(mine) + " and their blobs", *kept]), value)
