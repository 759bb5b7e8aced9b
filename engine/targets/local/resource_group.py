"""The resource group: a folder with group.json; deleting it deletes everything in it."""

from __future__ import annotations

import shutil

from engine.context import StepContext
from engine.fileio import write_json
from engine.steps import Check, Done, none
from engine.targets.local.state import LocalStep, read


class ResourceGroup(LocalStep):
    key = "resource_group"

    def check(self, ctx: StepContext) -> Check:
        group = read(self.target.group_dir / "group.json")
        rg = self.profile.workspace.resource_group
        if group is None:
            return Check("create", f"resource group '{rg}' in {self.profile.workspace.location}")
        return none(f"resource group '{rg}' ({group['location']})", group)

    def apply(self, ctx: StepContext, check: Check) -> Done:
        group = self.target.new(name=self.profile.workspace.resource_group, location=self.profile.workspace.location)
        write_json(self.target.group_dir / "group.json", group)
        return Done("created", check.detail, group)

    def check_delete(self, ctx: StepContext) -> Check:
        group = read(self.target.group_dir / "group.json")
        return self.target.kept_or_delete(f"resource group '{self.profile.workspace.resource_group}'", group,
                                          self.target.group_dir)

    def delete(self, ctx: StepContext, check: Check) -> Done:
        shutil.rmtree(self.target.group_dir)
        self.target.prune(self.target.group_dir.parent)
        return Done("deleted", check.detail)
