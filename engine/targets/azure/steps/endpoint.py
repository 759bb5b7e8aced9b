"""The batch endpoint. Its name is unique per region across all of Azure: when it is taken
elsewhere, the error offers a name very likely free."""

from __future__ import annotations

import hashlib
from typing import Any

from engine.context import StepContext
from engine.errors import StepError
from engine.steps import Check, Done, delete_check, none
from engine.targets.azure import _errors, _lro, _owned
from engine.targets.azure._base import BUSY_STATES, FAILED_STATES, default_deployment, state_of, tags_of
from engine.targets.azure.session import AzureStep


class Endpoint(AzureStep):
    key = "endpoint"

    def noun(self) -> str:
        return f"batch endpoint '{self.profile.endpoint_name}'"

    def info(self, endpoint: Any) -> dict[str, Any]:
        return {"name": endpoint.name, "scoring_uri": endpoint.scoring_uri or "",
                "default": default_deployment(endpoint), "ours": self.session.ours(endpoint)}

    def free_name(self) -> str:
        """A name very likely free: the endpoint name with a suffix from subscription, group and workspace."""
        p = self.profile
        seed = f"{p.account.subscription_id}/{p.workspace.resource_group}/{p.workspace.name}/{p.endpoint_name}"
        suffix = hashlib.sha256(seed.lower().encode()).hexdigest()[:5]
        return f"{p.endpoint_name[:26].rstrip('-')}-{suffix}"

    def check(self, ctx: StepContext) -> Check:
        name = self.profile.endpoint_name
        if ctx.planned("workspace") == "create":
            return Check("create", f"endpoint '{name}'")
        current = self.session.endpoint()
        if current is None:
            return Check("create", f"endpoint '{name}'")
        return _owned.guard(self.session, ctx, f"endpoint '{name}'", current, self._check(current),
                            _owned.retag_tracked(self.session, ctx, current, f"endpoint '{name}'", "endpoint"))

    def _check(self, current: Any) -> Check:
        name = self.profile.endpoint_name
        state = state_of(current)
        if state in BUSY_STATES:
            return Check("create", f"endpoint '{name}' is {state}: wait for it", {"busy": True})
        if state in FAILED_STATES:
            return Check("update", f"endpoint '{name}' failed to provision earlier: retry", {"tags": tags_of(current)})
        return none(f"endpoint '{name}' {current.scoring_uri}", self.info(current))

    def apply(self, ctx: StepContext, check: Check) -> Done:
        from azure.ai.ml.entities import BatchEndpoint

        session = self.session
        name = self.profile.endpoint_name
        value = check.value or {}
        if value.get("busy"):
            session.wait_until(ctx, lambda: session.ml.batch_endpoints.get(name), f"waiting for endpoint '{name}'",
                               lambda e: state_of(e) not in BUSY_STATES)
        else:
            tags = value.get("tags") or session.tags
            try:
                poller = session.ml.batch_endpoints.begin_create_or_update(BatchEndpoint(
                    name=name, tags=tags, description=f"amlbatch profile {self.profile.name}"))
                _lro.wait_poller(ctx, poller, f"creating endpoint '{name}'")
            except Exception as exc:  # noqa: BLE001
                if _errors.endpoint_name_taken(exc):
                    raise StepError(f"endpoint.name: '{name}' is already taken in {self.profile.workspace.location} "
                                    "(batch endpoint names are unique per region across all of Azure); set "
                                    f"endpoint.name = \"{self.free_name()}\" and run again") from None
                raise
        session.forget("endpoint")
        endpoint = session.endpoint()
        if endpoint is None:
            raise StepError(f"endpoint '{name}' was not found after its creation; run again")
        outcome = "created" if check.plan == "create" else "updated"
        return Done(outcome, f"endpoint '{name}' {endpoint.scoring_uri}", self.info(endpoint))

    def check_delete(self, ctx: StepContext) -> Check:
        name = self.profile.endpoint_name
        going = self.session.inside_going(f"endpoint '{name}'")
        if going:
            return going
        current = self.session.endpoint()
        return delete_check(f"endpoint '{name}'", current is not None, self.session.ours(current),
                            f"endpoint '{name}' and its deployments")

    def delete(self, ctx: StepContext, check: Check) -> Done:
        name = self.profile.endpoint_name
        return self.session.delete_and_wait(ctx, check, f"endpoint '{name}'",
                                            lambda: self.session.ml.batch_endpoints.begin_delete(name))
