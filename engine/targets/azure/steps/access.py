"""The access step: the role assignments the service itself needs on the workspace's storage account.

The datastores are identity-based (no key stored), so data is reached with Entra identities:

* the compute cluster's managed identity mounts the input and writes the output of every job on the
  cluster (endpoint jobs and the scheduled runs alike): it gets *Storage Blob Data Contributor*;
* the signed-in identity uploads the data and invokes the endpoint (a job reads and writes data as
  its invoker): when it has no blob data access on the account, it gets the same role.

Idempotent: an assignment that grants the role (or Storage Blob Data Owner) to that principal at the
account or above counts, whoever made it; a new one is named by a GUID derived from scope, role and
principal. Owned: role assignments have no tags, so the description holds the profile's ownership
tags (`_access.describe`), and tear-down deletes only those that say this profile made them.

When the identity may not assign roles, the check fails before anything changes (plan and provision
alike) with the `az role assignment create` lines to ask an administrator for: without the
assignments, uploads and every job fail on data access, so a warning would only move the failure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from engine import ownership
from engine.context import StepContext
from engine.errors import StepError
from engine.steps import Check, Done, none
from engine.targets.azure import _access, _errors
from engine.targets.azure._base import last_segment
from engine.targets.azure.session import AzureStep

ROLE = "Storage Blob Data Contributor"
ROLE_ID = _access.ROLE_IDS[ROLE]
PROPAGATION_SECONDS = 300.0  # a new assignment can take minutes to apply to storage requests


@dataclass(frozen=True)
class Want:
    who: str  # how the plan names the principal
    principal_id: str  # "" while not known (a cluster still to be made)
    principal_type: str  # ServicePrincipal | User
    label: str  # for whom, in the assignment's description (what tear-down names)
    user: bool = False


class Access(AzureStep):
    key = "access"

    def noun(self) -> str:
        return f"the role assignments on the workspace's storage account ({ROLE})"

    # ------------------------------------------------------------------ reads

    def _storage(self, ctx: StepContext, known: bool = False) -> tuple[str, str]:
        """(ARM id, name) of the workspace's storage account; ("", "") while the workspace is to be made."""
        if not known and ctx.planned("workspace") == "create":
            return "", ""
        ws = self.session.ws_value(ctx)
        return str(ws.get("storage_id") or ""), str(ws["storage_account"])

    def _cluster_principal(self, ctx: StepContext) -> str:
        if ctx.plan_only and "create" in (ctx.planned("workspace"), ctx.planned("compute")):
            return ""
        identity = getattr(self.session.compute(), "identity", None)
        found = getattr(identity, "principal_id", None)
        if not found:  # a cluster with only user-assigned identities: the first is the one jobs use
            found = next((getattr(u, "principal_id", None) for u in getattr(identity, "user_assigned_identities",
                                                                           None) or []), None)
        return str(found or "")

    def _permissions(self, client: Any, storage_id: str) -> list[Any] | None:
        """The signed-in identity's effective permissions on the storage account (the resource
        group's while the account does not exist; None when not readable)."""
        if not storage_id:
            return self.session.memo("permissions", lambda: _access.read_permissions(self.session))
        parts = storage_id.strip("/").split("/")
        return list(client.permissions.list_for_resource(parts[3], "Microsoft.Storage", "", "storageAccounts",
                                                         parts[-1]))

    @staticmethod
    def _granted(client: Any, storage_id: str, principal_id: str) -> bool:
        """Whether `principal_id` holds the role (or Blob Data Owner) at the account or above."""
        account = storage_id.lower()
        for found in client.role_assignments.list_for_scope(storage_id, filter=f"principalId eq '{principal_id}'"):
            scope = str(found.scope or "").lower().rstrip("/")
            if last_segment(found.role_definition_id) in _access.ROLE_IDS.values() \
                    and (account == scope or account.startswith(scope + "/")):
                return True
        return False

    def _wanted(self, ctx: StepContext, client: Any, storage_id: str) -> tuple[list[Want], bool | None]:
        """The assignments missing, and whether the identity may make them (None: unknown)."""
        cluster = self.profile.compute.name
        wants = []
        principal = self._cluster_principal(ctx)
        if not (principal and storage_id and self._granted(client, storage_id, principal)):
            wants.append(Want(f"cluster '{cluster}' (its managed identity: jobs and scheduled runs reach the "
                              "data with it)", principal, "ServicePrincipal", f"cluster '{cluster}'"))
        permissions = self._permissions(client, storage_id)
        if permissions is None or not all(_access.allowed(permissions, need) for need in _access.BLOB_DATA):
            me, kind = _access.signed_in(self.session)
            maybe = " if you have no blob data access there" if permissions is None else ""
            wants.append(Want(f"you (uploads and the jobs you submit{maybe})", me, kind,
                              f"the signed-in identity {me}", user=True))
        return wants, None if permissions is None else _access.allowed(permissions, _access.ASSIGN)

    # ------------------------------------------------------------------ what to tell

    def _ask(self, wants: list[Want], storage_id: str, account: str, why: str) -> str:
        """Why the assignments cannot be made, what they are for, and the lines for an administrator."""
        cluster = self.profile.compute.name
        scope = storage_id or f"<id of the workspace's storage account{' ' + account if account else ''}>"
        lines = [_access.az_line(w.principal_id or f"<principal id of cluster '{cluster}': az ml compute show "
                                                   f"-n {cluster} --query identity.principal_id>",
                                 w.principal_type, ROLE, scope) for w in wants]
        return (f"{why}; missing: {ROLE} on {account or 'the storage account'} for "
                + ", ".join(w.who for w in wants)
                + ". Without it, uploads and scoring jobs fail on data access. Ask an administrator to run: "
                + "; ".join(lines))

    # ------------------------------------------------------------------ the step

    def check(self, ctx: StepContext) -> Check:
        storage_id, account = self._storage(ctx)
        with _access.authorization(self.session) as client:
            wants, may_assign = self._wanted(ctx, client, storage_id)
        where = f"storage account {account}" if account else "the new workspace's storage account"
        if not wants:
            return none(f"{ROLE} on {where}: cluster '{self.profile.compute.name}' and you have it")
        if may_assign is False:
            return Check("fail", self._ask(wants, storage_id, account,
                                           f"you may not assign roles ({_access.ASSIGN.action} on {where})"))
        return Check("create", f"grant {ROLE} on {where} to " + "; ".join(w.who for w in wants))

    def apply(self, ctx: StepContext, check: Check) -> Done:
        from azure.core.exceptions import HttpResponseError
        from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

        storage_id, account = self._storage(ctx, known=True)
        role = f"/subscriptions/{self.profile.account.subscription_id}/providers/Microsoft.Authorization/" \
               f"roleDefinitions/{ROLE_ID}"
        made: list[Want] = []
        with _access.authorization(self.session) as client:
            wants, may_assign = self._wanted(ctx, client, storage_id)  # read again: the cluster exists now
            if wants and may_assign is False:  # the group did not exist when the plan looked
                raise StepError(self._ask(wants, storage_id, account, f"you may not assign roles "
                                          f"({_access.ASSIGN.action} on storage account {account})"))
            for want in wants:
                ctx.checkpoint()
                if not want.principal_id:
                    raise StepError(f"cluster '{self.profile.compute.name}' has no managed identity to grant "
                                    f"{ROLE} to: re-create it, or give it a system-assigned identity")
                parameters = RoleAssignmentCreateParameters(
                    role_definition_id=role, principal_id=want.principal_id, principal_type=want.principal_type,
                    description=_access.describe(self.session.tags, want.label))
                try:
                    client.role_assignments.create(
                        storage_id, _access.assignment_name(storage_id, ROLE_ID, want.principal_id), parameters)
                except HttpResponseError as exc:
                    if _errors.error_code(exc) == "RoleAssignmentExists":  # made meanwhile: it is there
                        continue
                    if getattr(exc, "status_code", None) == 403:
                        done = f"granted to {', '.join(w.who for w in made)}; " if made else ""
                        raise StepError(done + self._ask(wants[len(made):], storage_id, account,
                                                         f"Azure refused the role assignment "
                                                         f"({_errors.error_code(exc) or 403})")) from None
                    raise
                made.append(want)
        if any(w.user for w in made):  # this run's uploads wait out the assignment's propagation
            self.session.blobs(account).grace_until = time.monotonic() + PROPAGATION_SECONDS
        if not made:
            return Done("exists", f"{ROLE} on storage account {account}: already granted")
        return Done("created", f"granted {ROLE} on storage account {account} to "
                               + "; ".join(w.who for w in made))

    def check_delete(self, ctx: StepContext) -> Check:
        # ARM deletes the role assignments scoped to a resource it deletes (the account, its group)
        going = self.session.storage_going("the role assignments")
        if going:
            return going
        info = self.session.ws_info(self.session.workspace())
        storage_id = str(info["storage_id"] or "")
        with _access.authorization(self.session) as client:
            here = [a for a in client.role_assignments.list_for_scope(storage_id, filter="atScope()")
                    if str(a.scope or "").lower() == storage_id.lower()]
        mine = [a for a in here if ownership.made_by(_access.described(a.description), self.profile)]
        if not mine:
            return Check("skip", "no role assignment made by this profile")
        whom = ", ".join(_access.described(a.description).get("for", "?") for a in mine)
        return Check("delete", f"{ROLE} on storage account {info['storage_account']} for {whom}",
                     [(storage_id, a.name) for a in mine])

    def delete(self, ctx: StepContext, check: Check) -> Done:
        with _access.authorization(self.session) as client:
            for scope, name in check.value:
                ctx.checkpoint()
                client.role_assignments.delete(scope, name)  # an assignment already gone answers 204
        return Done("deleted", check.detail)
