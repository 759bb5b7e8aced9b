"""The access step: the role assignment the service needs, as a record, so the checklist and the
tear-down are the same as on Azure. On this machine the cluster is the worker processes and you are
the file owner, so it gives nobody rights; it records that the cluster's identity holds *Storage Blob
Data Contributor* on the workspace's storage account, as the azure target grants it."""

from __future__ import annotations

from engine.context import StepContext
from engine.fileio import write_json
from engine.steps import Check, Done, none
from engine.targets.local.state import LocalStep, read

ROLE = "Storage Blob Data Contributor"


class Access(LocalStep):
    key = "access"

    def _what(self) -> str:
        return f"{ROLE} for cluster '{self.profile.compute.name}'"

    def _path(self):  # one record per assignment, named by the principal it is for
        return self.target.json_path("roleAssignments", f"cluster-{self.profile.compute.name}")

    def check(self, ctx: StepContext) -> Check:
        if ctx.planned("workspace") == "create":
            return Check("create", f"grant {self._what()} on the new workspace's storage account")
        account = self.target.storage_account()
        current = read(self._path())
        if current is None or current.get("scope") != account:
            check = Check("create", f"grant {self._what()} on storage account {account}")
        else:
            check = none(f"{self._what()} on storage account {account}")
        return self.guard(ctx, f"role assignment {self._what()}", current, check, self._path())

    def apply(self, ctx: StepContext, check: Check) -> Done:
        account = self.target.storage_account()
        write_json(self._path(), self.target.new(role=ROLE, principal=f"cluster '{self.profile.compute.name}'",
                                                 scope=account))
        return Done("created", f"granted {self._what()} on storage account {account}")

    def check_delete(self, ctx: StepContext) -> Check:
        """Every assignment this profile recorded (one for an earlier cluster name too), as on Azure."""
        folder = self._path().parent
        mine = [p for p in sorted(folder.glob("*.json")) if self.target.ours(read(p))] if folder.is_dir() else []
        if not mine:
            return Check("skip", "no role assignment made by this profile")
        whom = ", ".join(str(read(p).get("principal")) for p in mine)
        return Check("delete", f"{ROLE} for {whom}", mine)

    def delete(self, ctx: StepContext, check: Check) -> Done:
        for path in check.value:
            path.unlink(missing_ok=True)
        return Done("deleted", check.detail)
