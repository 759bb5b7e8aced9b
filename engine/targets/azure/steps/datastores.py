"""The input and output datastores: identity-based (no key or SAS stored), pointing at the
profile's containers in the workspace's storage account. Which are missing or point elsewhere is
engine.diff.datastores' decision."""

from __future__ import annotations

import functools
from typing import Any

from engine import diff
from engine.cloud import endpoints
from engine.context import StepContext
from engine.steps import Check, Done
from engine.targets.azure import _errors, _owned
from engine.targets.azure._base import tags_of
from engine.targets.azure.session import AzureStep


def points_at(store: Any) -> tuple[str, str] | None:
    """(account, container) a datastore points at; None for a missing one."""
    if store is None:
        return None
    return getattr(store, "account_name", None), getattr(store, "container_name", None)


class Datastores(AzureStep):
    key = "datastores"

    def noun(self) -> str:
        s = self.profile.storage
        return f"datastores {s.input_datastore}, {s.output_datastore}"

    def _current(self) -> dict[str, Any]:
        """Datastore name -> what was read (None where missing)."""
        return {name: store for (name, _), store in zip(diff.datastore_pairs(self.profile), self.session.datastores())}

    def check(self, ctx: StepContext) -> Check:
        if ctx.planned("workspace") == "create":
            names = ", ".join(n for n, _ in diff.datastore_pairs(self.profile))
            return Check("create", f"datastores {names} (identity-based)")
        account = self.session.ws_value(ctx)["storage_account"]
        current = self._current()
        found = {name: points_at(store) for name, store in current.items()}
        check = diff.datastores(self.profile, account, found, value=account)
        ml = self.session.ml
        for name, store in current.items():
            check = _owned.guard(self.session, ctx, f"datastore '{name}'", store, check, _owned.retag_entity(
                self.session, f"datastore '{name}'", functools.partial(ml.datastores.get, name, include_secrets=True),
                ml.datastores.create_or_update, "datastores"))
        return check

    def apply(self, ctx: StepContext, check: Check) -> Done:
        from azure.ai.ml.entities import AzureBlobDatastore

        session = self.session
        account = session.ws_value(ctx)["storage_account"]
        current = self._current() if ctx.planned("workspace") != "create" else {}
        for name, container in diff.datastore_pairs(self.profile):
            ctx.checkpoint()
            have = current.get(name)
            if points_at(have) == (account, container):
                continue
            tags = tags_of(have) if have is not None else session.tags
            session.ml.datastores.create_or_update(AzureBlobDatastore(
                name=name, account_name=account, container_name=container, tags=tags or None,
                endpoint=endpoints(self.profile.account.cloud).storage_suffix,
                description="amlbatch: identity-based access"))
        session.forget("datastores")
        ctx.log("the datastores use identity-based access: whoever invokes the endpoint needs 'Storage Blob Data "
                "Reader' on the input and 'Storage Blob Data Contributor' on the output container's account")
        return Done("created" if check.plan == "create" else "updated", check.detail)

    def check_delete(self, ctx: StepContext) -> Check:
        going = self.session.inside_going("the datastores")
        if going:
            return going
        if _owned.workspace_going(self.session):
            return Check("skip", "the datastores go with their workspace")
        mine = [name for name, store in self._current().items() if store is not None and self.session.ours(store)]
        if not mine:
            return Check("skip", "no datastore created by this profile")
        return Check("delete", "datastores " + ", ".join(mine), mine)

    def delete(self, ctx: StepContext, check: Check) -> Done:
        for name in check.value:
            try:
                self.session.ml.datastores.delete(name)
            except Exception as exc:  # noqa: BLE001
                if not _errors.is_not_found(exc):
                    raise
        return Done("deleted", check.detail)
