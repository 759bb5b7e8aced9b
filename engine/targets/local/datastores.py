"""The input and output datastores: records pointing at a container of the storage account."""

from __future__ import annotations

from typing import Any

from engine import diff
from engine.context import StepContext
from engine.fileio import write_json
from engine.steps import Check, Done
from engine.targets.local.state import LocalStep, read


class Datastores(LocalStep):
    key = "datastores"

    def _found(self) -> dict[str, dict[str, Any] | None]:
        return {name: read(self.target.json_path("datastores", name)) for name, _ in diff.datastore_pairs(self.profile)}

    def check(self, ctx: StepContext) -> Check:
        if ctx.planned("workspace") == "create":
            return Check("create", "datastores " + ", ".join(n for n, _ in diff.datastore_pairs(self.profile)))
        account = self.target.storage_account()
        records = self._found()
        found = {name: None if record is None else (record["account_name"], record["container_name"])
                 for name, record in records.items()}
        check = diff.datastores(self.profile, account, found, value=account)
        for name, record in records.items():
            check = self.guard(ctx, f"datastore '{name}'", record, check, self.target.json_path("datastores", name))
        return check

    def apply(self, ctx: StepContext, check: Check) -> Done:
        account = check.value or self.target.storage_account()
        found = self._found()
        for name, container in diff.datastore_pairs(self.profile):
            path, current = self.target.json_path("datastores", name), found[name]
            if current is None:
                write_json(path, self.target.new(name=name, type="AzureBlob", account_name=account,
                                                 container_name=container, credentials="identity"))
            elif (current["account_name"], current["container_name"]) != (account, container):
                write_json(path, {**current, "container_name": container, "account_name": account})
        return Done("created" if check.plan == "create" else "updated", check.detail)

    def check_delete(self, ctx: StepContext) -> Check:
        mine = [self.target.json_path("datastores", name) for name, record in self._found().items()
                if self.target.ours(record)]
        if not mine:
            return Check("skip", "no datastore created by this profile")
        return Check("delete", "datastores " + ", ".join(p.stem for p in mine), mine)

    def delete(self, ctx: StepContext, check: Check) -> Done:
        for path in check.value:
            path.unlink()
        return Done("deleted", check.detail)
