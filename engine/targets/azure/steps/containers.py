"""The input and output blob containers in the workspace's storage account (see _blob for Entra ID
and the account-key fallback). Containers we make carry this profile in their metadata."""

from __future__ import annotations

import functools

from engine.context import StepContext
from engine import ownership
from engine.steps import Check, Done, delete_containers, none
from engine.targets.azure import _owned
from engine.targets.azure._blob import metadata_tags, owner_metadata
from engine.targets.azure.session import AzureStep


class Containers(AzureStep):
    key = "containers"

    def noun(self) -> str:
        s = self.profile.storage
        return f"blob containers {s.input_container}, {s.output_container}"

    def _names(self) -> list[str]:
        s = self.profile.storage
        return [s.input_container, s.output_container]

    def _found(self, account: str) -> list:
        """The properties of each container (None where missing), read together."""
        return self.session.parallel(*[functools.partial(self.session.container_props, account, c)
                                       for c in self._names()])

    def check(self, ctx: StepContext) -> Check:
        if ctx.planned("workspace") == "create":
            return Check("create", "containers " + ", ".join(self._names()) + " (in the new workspace)")
        account = self.session.ws_value(ctx)["storage_account"]
        missing = [c for c, props in zip(self._names(), self._found(account)) if props is None]
        if missing:
            return Check("create", "containers " + ", ".join(missing) + f" in {account}", account)
        return none("containers " + ", ".join(self._names()) + f" in {account}", account)

    def apply(self, ctx: StepContext, check: Check) -> Done:
        from azure.core.exceptions import ResourceExistsError

        account = self.session.ws_value(ctx)["storage_account"]
        blobs = self.session.blobs(account)
        made = []
        for name in self._names():
            ctx.checkpoint()
            if self.session.container_props(account, name) is not None:
                continue
            try:
                blobs.run(lambda c: c.create_container(name, metadata=owner_metadata(self.profile)))
                made.append(name)
            except ResourceExistsError:
                pass
        return Done("created", "containers " + (", ".join(made) or "(already there)") + f" in {account}", account)

    def check_delete(self, ctx: StepContext) -> Check:
        going = self.session.storage_going("the containers")
        if going:
            return going
        account = self.session.ws_info(self.session.workspace())["storage_account"]
        mine, kept = [], []
        for name, props in zip(self._names(), self._found(account)):
            if props is None or not ownership.made_by(metadata_tags(props.metadata), self.profile):
                continue
            users = _owned.container_users(self.session, account, name)
            if users:  # another profile's blobs or datastore: the container stays, our blobs go (upload step)
                kept.append(_owned.kept(f"container '{name}'", users).detail)
            else:
                mine.append(name)
        return delete_containers(mine, kept, (account, mine))

    def delete(self, ctx: StepContext, check: Check) -> Done:
        from azure.core.exceptions import ResourceNotFoundError

        account, mine = check.value
        for name in mine:
            try:
                self.session.blobs(account).run(lambda c: c.delete_container(name))
            except ResourceNotFoundError:
                pass
        return Done("deleted", check.detail)
