"""The compute cluster: a record of its size and node counts. What may change in place, and what
may not, is engine.diff.compute's decision."""

from __future__ import annotations

from engine import diff
from engine.context import StepContext
from engine.fileio import write_json
from engine.steps import Check, Done
from engine.targets.local.state import LocalStep, read

FIELDS = ("vm_size", "tier", "min_nodes", "max_nodes", "idle_seconds")


class Compute(LocalStep):
    key = "compute"

    def check(self, ctx: StepContext) -> Check:
        path = self.target.json_path("computes", self.profile.compute.name)
        current = read(path)
        return self.guard(ctx, f"cluster '{self.profile.compute.name}'", current,
                          diff.compute(self.profile, current, value=current), path)

    def apply(self, ctx: StepContext, check: Check) -> Done:
        c = self.profile.compute
        path = self.target.json_path("computes", c.name)
        settings = {k: getattr(c, k) for k in FIELDS}
        if check.plan == "update":
            write_json(path, {**check.value, **settings})
            return Done("updated", check.detail)
        write_json(path, self.target.new(name=c.name, type="AmlCompute", **settings))
        return Done("created", check.detail)

    def check_delete(self, ctx: StepContext) -> Check:
        name = self.profile.compute.name
        return self.check_delete_record(self.target.json_path("computes", name), f"cluster '{name}'")

    delete = LocalStep.delete_record
