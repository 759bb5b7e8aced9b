"""The deployment: the endpoint's default, a record whose `settings` is the flat dict of
engine.diff.deployment_wanted (asset references, script, cluster and the batch settings)."""

from __future__ import annotations

from engine import diff, ownership
from engine.context import StepContext
from engine.fileio import write_json
from engine.steps import Check, Done, none
from engine.targets.local.state import LocalStep, read


class Deployment(LocalStep):
    key = "deployment"

    def check(self, ctx: StepContext) -> Check:
        name = self.profile.endpoint.deployment
        want = diff.deployment_wanted(self.profile, ctx.value("assets") or ownership.asset_versions(self.profile))
        current = read(self.target.deployment_file)
        if current is None:
            return Check("create", f"deployment '{name}' (default)", want)
        changes = diff.deployment_changes(want, current["settings"])
        endpoint = read(self.target.endpoint_file) or {}
        if endpoint.get("default_deployment") != name:
            changes.append(f"make '{name}' the endpoint's default")
        if changes:
            check = Check("update", f"deployment '{name}': " + "; ".join(changes), want)
        else:
            check = none(f"deployment '{name}' (default)", want)
        return self.guard(ctx, f"deployment '{name}' of endpoint '{self.profile.endpoint_name}'", current, check,
                          self.target.deployment_file)

    def apply(self, ctx: StepContext, check: Check) -> Done:
        name = self.profile.endpoint.deployment
        current = read(self.target.deployment_file)
        record = {**current, "settings": check.value} if current else self.target.new(name=name, settings=check.value)
        write_json(self.target.deployment_file, record)
        # Invoking an endpoint with no default deployment fails, so always set it.
        endpoint = read(self.target.endpoint_file)
        if endpoint.get("default_deployment") != name:
            write_json(self.target.endpoint_file, {**endpoint, "default_deployment": name})
        return Done("updated" if current else "created", check.detail)

    def check_delete(self, ctx: StepContext) -> Check:
        return self.check_delete_record(self.target.deployment_file,
                                        f"deployment '{self.profile.endpoint.deployment}'")

    delete = LocalStep.delete_record
