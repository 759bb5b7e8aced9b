"""The workspace, with its storage account and default datastore, as Azure creates them."""

from __future__ import annotations

import hashlib
import shutil

from engine import diff
from engine.context import StepContext
from engine.fileio import write_json
from engine.steps import Check, Done, none
from engine.targets.local.state import LocalStep


class Workspace(LocalStep):
    key = "workspace"

    def check(self, ctx: StepContext) -> Check:
        ws = self.target.workspace()
        name, location = self.profile.workspace.name, self.profile.workspace.location
        if ws is None:
            return Check("create", f"workspace '{name}' in {location}")
        moved = diff.workspace_moved(self.profile, ws["location"])
        if moved:
            return moved
        return none(f"workspace '{name}' (storage {ws['storage_account']})", ws)

    def apply(self, ctx: StepContext, check: Check) -> Done:
        state, name, location = self.target, self.profile.workspace.name, self.profile.workspace.location
        # Azure names the auto-created storage account from the workspace name plus a unique suffix;
        # here, one unique in the local cloud and the same wherever AMLBATCH_HOME lies, on any OS.
        stem = "".join(ch for ch in name.lower() if ch.isalnum())[:16]
        suffix = hashlib.sha256(state.ws_dir.relative_to(state.root).as_posix().encode()).hexdigest()[:8]
        account = f"{stem}{suffix}"[:24]
        write_json(state.account_dir(account) / "account.json",
                   state.new(name=account, kind="StorageV2", location=location))
        ws = state.new(name=name, location=location, storage_account=account)
        default = state.new(name="workspaceblobstore", account_name=account,
                            container_name=f"azureml-blobstore-{suffix}", is_default=True)
        write_json(state.json_path("datastores", "workspaceblobstore"), default)
        write_json(state.ws_dir / "workspace.json", ws)
        return Done("created", f"workspace '{name}' with storage account {account}", ws)

    def check_delete(self, ctx: StepContext) -> Check:
        ws = self.target.workspace()
        what = f"workspace '{self.profile.workspace.name}'"
        check = self.target.kept_or_delete(what, ws, self.target.ws_dir, ws)
        if check.plan == "delete":  # its storage account goes with it: nothing of others' may be in there
            account = self.target.account_dir(ws["storage_account"])
            kept = self.target.kept_or_delete(f"{what} (its storage account {ws['storage_account']})",
                                              ws, account)
            if kept.plan != "delete":
                return kept
            check.detail += f"; its storage account {ws['storage_account']}"
        return check

    def delete(self, ctx: StepContext, check: Check) -> Done:
        shutil.rmtree(self.target.account_dir(check.value["storage_account"]), ignore_errors=True)
        shutil.rmtree(self.target.ws_dir)
        self.target.prune(self.target.ws_dir.parent)
        return Done("deleted", check.detail)
