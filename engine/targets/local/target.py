"""The local target: the steps it runs, one module each, and its scoring runs (LocalJobs)."""

from __future__ import annotations

from typing import Any

from engine import events as ev
from engine.context import CancelToken
from engine.contract import Target, step_map
from engine.targets.local.access import Access
from engine.targets.local.assets import Assets
from engine.targets.local.compute import Compute
from engine.targets.local.containers import Containers
from engine.targets.local.datastores import Datastores
from engine.targets.local.deployment import Deployment
from engine.targets.local.endpoint import Endpoint
from engine.targets.local.jobs import LocalJobs
from engine.targets.local.resource_group import ResourceGroup
from engine.targets.local.schedule import Schedule
from engine.targets.local.upload import Upload
from engine.targets.local.workspace import Workspace


class LocalTarget(LocalJobs, Target):
    """Every step on this machine, state on disk (see engine.targets.local for the layout)."""

    name = "local"
    steps = step_map(ResourceGroup, Workspace, Compute, Access, Containers, Upload, Datastores, Assets, Endpoint,
                     Deployment, Schedule)

    def __init__(self, profile: Any, emit: ev.Emit, cancel: CancelToken) -> None:
        super().__init__(profile, emit, cancel)
        self.init_state(profile)
