"""The resource group: made with the profile's tags; tear-down deletes it, and everything in it,
only when this profile made it and nothing of anyone else's is in it (engine.targets.azure._owned)."""

from __future__ import annotations

from engine.context import StepContext
from engine.steps import Check, Done, delete_check, none
from engine.targets.azure import _owned
from engine.targets.azure._base import state_of
from engine.targets.azure.session import AzureStep


class ResourceGroup(AzureStep):
    key = "resource_group"

    def noun(self) -> str:
        return f"resource group '{self.profile.workspace.resource_group}'"

    def check(self, ctx: StepContext) -> Check:
        rg, location = self.profile.workspace.resource_group, self.profile.workspace.location
        group = self.session.resource_group()
        if group is None:
            return Check("create", f"resource group '{rg}' in {location}")
        if group == "forbidden":
            return none(f"resource group '{rg}' (no permission to read it; assumed to exist)",
                        {"name": rg, "ours": False})
        if state_of(group) == "deleting":
            return Check("fail", f"resource group '{rg}' is being deleted; wait until it is gone "
                                 "(Azure portal > Resource groups), then run again")
        return none(f"resource group '{rg}' ({group.location})",
                    {"name": rg, "location": group.location, "ours": self.session.ours(group)})

    def apply(self, ctx: StepContext, check: Check) -> Done:
        p, session = self.profile.workspace, self.session
        group = session.rm.resource_groups.create_or_update(p.resource_group,
                                                            {"location": p.location, "tags": session.tags})
        session.forget("resource_group")
        return Done("created", check.detail, {"name": group.name, "location": group.location, "ours": True})

    def check_delete(self, ctx: StepContext) -> Check:
        group = self.session.resource_group()
        what = f"resource group '{self.profile.workspace.resource_group}'"
        if group is None or group == "forbidden" or not self.session.ours(group):
            return delete_check(what, group is not None, False)
        # what it holds, as ARM lists it (and Azure ML, for the workspace): kept when others' are in it
        mine, others = _owned.group_holdings(self.session)
        if others:
            return _owned.kept(what, others)
        return Check("delete", f"{what} and everything in it: {_owned.everything_in(mine)}")

    def delete(self, ctx: StepContext, check: Check) -> Done:
        rg = self.profile.workspace.resource_group
        ctx.log(f"deleting resource group '{rg}' and everything in it (this takes several minutes)")
        return self.session.delete_and_wait(ctx, check, f"resource group '{rg}'",
                                            lambda: self.session.rm.resource_groups.begin_delete(rg))
