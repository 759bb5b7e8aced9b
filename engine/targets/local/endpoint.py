"""The batch endpoint: a record with its scoring URI; its name is unique per region across all
subscriptions, as on Azure."""

from __future__ import annotations

import shutil

from engine.context import StepContext
from engine.fileio import write_json
from engine.steps import Check, Done, none
from engine.targets.local.state import LocalStep, read


class Endpoint(LocalStep):
    key = "endpoint"

    def _taken_elsewhere(self, name: str) -> bool:
        location = self.profile.workspace.location
        for path in self.target.subscriptions.glob(f"*/resourceGroups/*/workspaces/*/batchEndpoints/{name}.json"):
            if path != self.target.endpoint_file and (read(path) or {}).get("location") == location:
                return True
        return False

    def check(self, ctx: StepContext) -> Check:
        name = self.profile.endpoint_name
        current = read(self.target.endpoint_file)
        if current is not None:
            return self.guard(ctx, f"endpoint '{name}'", current,
                              none(f"endpoint '{name}' {current['scoring_uri']}", current), self.target.endpoint_file)
        if self._taken_elsewhere(name):
            free = next(f"{name[:27]}-{i}" for i in range(2, 1000) if not self._taken_elsewhere(f"{name[:27]}-{i}"))
            return Check("fail", f"endpoint.name: '{name}' is already taken in {self.profile.workspace.location} "
                                 f"(endpoint names are unique per region); try endpoint.name = \"{free}\"")
        return Check("create", f"endpoint '{name}'")

    def apply(self, ctx: StepContext, check: Check) -> Done:
        name = self.profile.endpoint_name
        endpoint = self.target.new(name=name, location=self.profile.workspace.location, default_deployment="",
                                   scoring_uri=f"local://{self.profile.workspace.name}/batchEndpoints/{name}/jobs")
        write_json(self.target.endpoint_file, endpoint)
        return Done("created", f"endpoint '{name}' {endpoint['scoring_uri']}", endpoint)

    def check_delete(self, ctx: StepContext) -> Check:
        return self.check_delete_record(self.target.endpoint_file, f"endpoint '{self.profile.endpoint_name}'")

    def delete(self, ctx: StepContext, check: Check) -> Done:
        shutil.rmtree(self.target.endpoint_file.with_suffix(""), ignore_errors=True)  # its deployments
        return self.delete_record(ctx, check)
