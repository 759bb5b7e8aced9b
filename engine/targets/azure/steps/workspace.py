"""The workspace, with the storage account, key vault and application insights Azure ML makes for
it. Its creation is an ARM template deployment: a run stopped while it ran leaves it running, and
the next run waits for that deployment instead of starting a second one. A workspace cannot move to
another region (engine.diff.workspace_moved)."""

from __future__ import annotations

from typing import Any

from engine import diff
from engine.context import StepContext
from engine.errors import StepError
from engine.steps import Check, Done, delete_check, none
from engine.targets.azure import _lro, _owned
from engine.targets.azure._base import BUSY_STATES, FAILED_STATES, state_of
from engine.targets.azure.session import AzureStep


class Workspace(AzureStep):
    key = "workspace"

    def noun(self) -> str:
        return f"workspace '{self.profile.workspace.name}'"

    def _deployments_path(self) -> str:
        p = self.profile
        return (f"/subscriptions/{p.account.subscription_id}/resourcegroups/{p.workspace.resource_group}"
                "/providers/Microsoft.Resources/deployments")

    def _running_deployment(self) -> str | None:
        """The template deployment an earlier (interrupted) run started for our workspace, if any."""
        prefix = f"{self.profile.workspace.name}-".lower()
        found = self.session.arm_get(self._deployments_path(), **{"$filter": "provisioningState eq 'Running'"}) or {}
        for deployment in found.get("value", []):
            name = str(deployment.get("name") or "")
            state = str((deployment.get("properties") or {}).get("provisioningState") or "").lower()
            if name.lower().startswith(prefix) and name[len(prefix):].isdigit() and state in BUSY_STATES:
                return name
        return None

    def _deployment_state(self, name: str) -> tuple[str, dict[str, Any]]:
        found = self.session.arm_get(f"{self._deployments_path()}/{name}") or {}
        props = found.get("properties") or {}
        return str(props.get("provisioningState") or "").lower(), props.get("error") or {}

    def check(self, ctx: StepContext) -> Check:
        name, location = self.profile.workspace.name, self.profile.workspace.location
        new = Check("create", f"workspace '{name}' in {location} (with its storage account, key vault and "
                              "application insights)")
        if ctx.planned("resource_group") == "create":
            return new
        ws = self.session.workspace()
        if ws is None:
            running = self._running_deployment()
            if running:
                return Check("create", f"workspace '{name}' is still being created by an earlier run "
                                       f"(deployment {running}): wait for it", {"deployment": running})
            return new
        info = self.session.ws_info(ws)
        moved = diff.workspace_moved(self.profile, info["location"])
        if moved:
            return moved
        state = state_of(ws)
        if state in BUSY_STATES:
            return Check("create", f"workspace '{name}' is {state}: wait for it", {**info, "busy": True})
        if state in FAILED_STATES:
            return Check("update", f"workspace '{name}' failed to provision earlier: retry", info)
        return none(f"workspace '{name}' (storage {info['storage_account']})", info)

    def apply(self, ctx: StepContext, check: Check) -> Done:
        p, session = self.profile.workspace, self.session
        value = check.value or {}
        if value.get("deployment"):
            deployment = value["deployment"]
            state, error = session.wait_until(ctx, lambda: self._deployment_state(deployment),
                                              f"creating workspace '{p.name}'", lambda s: s[0] not in BUSY_STATES)
            if state != "succeeded":
                raise StepError(f"could not create workspace '{p.name}': the earlier deployment {deployment} "
                                f"ended {state or 'missing'}"
                                + (f" ({error.get('code')}: {error.get('message')})" if error else "")
                                + "; run again to retry")
        elif value.get("busy"):
            session.wait_until(ctx, lambda: session.ml.workspaces.get(p.name), f"waiting for workspace '{p.name}'",
                               lambda w: state_of(w) not in BUSY_STATES)
        else:
            from azure.ai.ml.entities import Workspace as WorkspaceEntity

            ctx.log(f"creating workspace '{p.name}' with its storage account, key vault and application "
                    "insights (usually 2-5 minutes)")
            tags = dict(session.tags) if check.plan == "create" else None
            poller = session.ml.workspaces.begin_create(WorkspaceEntity(name=p.name, location=p.location, tags=tags,
                                                                        display_name=p.name))
            _lro.wait_poller(ctx, poller, f"creating workspace '{p.name}'")
        session.forget("workspace")
        ws = session.workspace()
        if ws is None:
            raise StepError(f"workspace '{p.name}' was not found after its creation finished; run again")
        info = session.ws_info(ws)
        outcome = "created" if check.plan == "create" else "updated"
        return Done(outcome, f"workspace '{p.name}' with storage account {info['storage_account']}", info)

    def check_delete(self, ctx: StepContext) -> Check:
        name = self.profile.workspace.name
        purge = bool(ctx.options.get("purge"))
        if _owned.group_going(self.session) and not purge:
            return Check("skip", f"workspace '{name}' goes with the resource group (soft-deleted for 14 days; "
                                 "--purge frees its name at once)")
        ws = self.session.workspace()
        if ws is None or not self.session.ours(ws):
            return delete_check(f"workspace '{name}'", ws is not None, False)
        others = _owned.workspace_holdings(self.session)[1]
        if others:  # another profile's cluster, endpoint, datastore or container is in it
            return _owned.kept(f"workspace '{name}'", others)
        info = self.session.ws_info(ws)
        return Check("delete", f"workspace '{name}' with its storage account {info['storage_account']}, key vault "
                               "and application insights" + (" (purged: the name is free at once)" if purge else
                                                             " (soft-deleted for 14 days; --purge frees the name)"),
                     info)

    def delete(self, ctx: StepContext, check: Check) -> Done:
        name = self.profile.workspace.name
        purge = bool(ctx.options.get("purge"))
        return self.session.delete_and_wait(ctx, check, f"workspace '{name}'", lambda: self.session.ml.workspaces
                                            .begin_delete(name, delete_dependent_resources=True,
                                                          permanently_delete=purge))
