"""The compute cluster (AmlCompute). What may change in place (node counts, idle time) and what may
not (VM size, tier) is engine.diff.compute's decision; here: a name taken by another kind of
compute, a cluster still busy from an earlier run, one that failed to provision."""

from __future__ import annotations

from typing import Any

from engine import diff
from engine.context import StepContext
from engine.errors import StepError
from engine.steps import Check, Done, delete_check, none
from engine.targets.azure import _lro, _owned
from engine.targets.azure._base import BUSY_STATES, FAILED_STATES, state_of, tags_of
from engine.targets.azure.session import AzureStep


def found(cluster: Any) -> dict[str, Any]:
    """What engine.diff.compute compares, read off an AmlCompute."""
    return {"vm_size": cluster.size or None, "tier": cluster.tier or None, "min_nodes": cluster.min_instances,
            "max_nodes": cluster.max_instances, "idle_seconds": int(cluster.idle_time_before_scale_down or 0)}


class Compute(AzureStep):
    key = "compute"

    def noun(self) -> str:
        return f"compute cluster '{self.profile.compute.name}'"

    def check(self, ctx: StepContext) -> Check:
        if ctx.planned("workspace") == "create":
            return diff.compute(self.profile, None)
        current = self.session.compute()
        if current is None:
            return diff.compute(self.profile, None)
        what = f"cluster '{self.profile.compute.name}'"
        return _owned.guard(self.session, ctx, what, current, self._check(current),
                            _owned.retag_tracked(self.session, ctx, current, what, "compute"))

    def _check(self, current: Any) -> Check:
        c = self.profile.compute
        kind = str(getattr(current, "type", "") or "").lower()
        if kind and kind != "amlcompute":
            return Check("fail", f"compute.name: '{c.name}' is a {current.type}, not an AmlCompute cluster; set "
                                 "compute.name to another name")
        state = state_of(current)
        if state in BUSY_STATES:
            return Check("create", f"cluster '{c.name}' is {state}: wait for it", {"busy": True})
        keep = {"tags": tags_of(current), "identity": getattr(current, "identity", None)}
        decided = diff.compute(self.profile, found(current), value=keep)
        if decided.plan == "fail":
            return decided
        if state in FAILED_STATES:
            return Check("update", f"cluster '{c.name}' failed to provision earlier: retry", keep)
        if decided.plan == "update":
            return decided
        if keep["identity"] is None:  # jobs reach the data with the cluster's identity (the access step)
            return Check("update", f"cluster '{c.name}': give it a system-assigned managed identity", keep)
        return none(decided.detail, {"name": c.name, "id": getattr(current, "id", "")})

    def apply(self, ctx: StepContext, check: Check) -> Done:
        from azure.ai.ml.entities import AmlCompute, IdentityConfiguration

        c, session = self.profile.compute, self.session
        value = check.value or {}
        if value.get("busy"):
            session.wait_until(ctx, lambda: session.ml.compute.get(c.name), f"waiting for cluster '{c.name}'",
                               lambda r: state_of(r) not in BUSY_STATES)
            session.forget("compute")
            again = self.check(ctx)
            if again.plan == "fail":
                raise StepError(again.detail)
            if not again.changes:
                return Done("created", f"cluster '{c.name}' is ready (its creation was started by an earlier run)")
            check, value = again, again.value or {}
        updating = check.plan == "update"
        tags = value.get("tags") if updating else session.tags
        # a cluster gets a system-assigned identity (jobs and scheduled runs read and write their data
        # with it; the access step gives it the data role); one that has an identity keeps it
        identity = (value.get("identity") if updating else None) or IdentityConfiguration(type="system_assigned")
        cluster = AmlCompute(name=c.name, size=c.vm_size, tier=c.tier, min_instances=c.min_nodes,
                             max_instances=c.max_nodes, idle_time_before_scale_down=c.idle_seconds,
                             identity=identity, tags=tags or None)
        doing = "creating" if check.plan == "create" else "updating"
        ctx.log(f"{doing} cluster '{c.name}'")
        poller = session.ml.compute.begin_create_or_update(cluster)
        _lro.wait_poller(ctx, poller, f"{doing} cluster '{c.name}'")
        session.forget("compute")
        return Done("created" if check.plan == "create" else "updated", check.detail)

    def check_delete(self, ctx: StepContext) -> Check:
        name = self.profile.compute.name
        going = self.session.inside_going(f"cluster '{name}'")
        if going:
            return going
        current = self.session.compute()
        return delete_check(f"cluster '{name}'", current is not None, self.session.ours(current))

    def delete(self, ctx: StepContext, check: Check) -> Done:
        name = self.profile.compute.name
        return self.session.delete_and_wait(ctx, check, f"cluster '{name}'",
                                            lambda: self.session.ml.compute.begin_delete(name))
