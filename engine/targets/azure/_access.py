"""Permission preflight (issue 11, part 2, first half): what each step needs, checked against the
signed-in identity's effective permissions at the resource-group scope, read with the
Microsoft.Authorization permissions API (azure-mgmt-authorization,
`permissions.list_for_resource_group`). Each missing permission is named with the built-in role
that grants it, per step, at plan time - before anything changes.

Matching follows Azure RBAC: an action is allowed when a permission's `actions` (or, for data
actions, `dataActions`) pattern matches it (`*` is a wildcard, case-insensitive) and no
`notActions` / `notDataActions` pattern of that same permission does."""

from __future__ import annotations

import base64
import fnmatch
import json
import uuid
from dataclasses import dataclass
from typing import Any, Iterable


@dataclass(frozen=True)
class Need:
    action: str
    role: str  # the built-in role that grants it
    data: bool = False  # a data action (blob reads and writes), not a control-plane one


_CONTRIBUTOR = "Contributor"
_ML = "AzureML Data Scientist"
_BLOB = "Storage Blob Data Contributor"
NEEDS: dict[str, tuple[Need, ...]] = {
    "resource_group": (Need("Microsoft.Resources/subscriptions/resourceGroups/write", _CONTRIBUTOR),),
    "workspace": tuple(Need(a, _CONTRIBUTOR) for a in (
        "Microsoft.MachineLearningServices/workspaces/write", "Microsoft.Storage/storageAccounts/write",
        "Microsoft.KeyVault/vaults/write", "Microsoft.Insights/components/write",
        "Microsoft.Resources/deployments/write")),
    "containers": (Need("Microsoft.Storage/storageAccounts/blobServices/containers/write", _CONTRIBUTOR),),
    "upload": (Need("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write", _BLOB, data=True),
               Need("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", _BLOB, data=True)),
    "compute": (Need("Microsoft.MachineLearningServices/workspaces/computes/write", _ML),),
    "datastores": (Need("Microsoft.MachineLearningServices/workspaces/datastores/write", _ML),),
    "assets": (Need("Microsoft.MachineLearningServices/workspaces/environments/versions/write", _ML),
               Need("Microsoft.MachineLearningServices/workspaces/models/versions/write", _ML)),
    "endpoint": (Need("Microsoft.MachineLearningServices/workspaces/batchEndpoints/write", _ML),),
    "deployment": (Need("Microsoft.MachineLearningServices/workspaces/batchEndpoints/deployments/write", _ML),
                   Need("Microsoft.MachineLearningServices/workspaces/codes/versions/write", _ML)),
    # the scheduled pipeline registers its own code and parallel component versions
    "schedule": (Need("Microsoft.MachineLearningServices/workspaces/schedules/write", _ML),
                 Need("Microsoft.MachineLearningServices/workspaces/codes/versions/write", _ML),
                 Need("Microsoft.MachineLearningServices/workspaces/components/versions/write", _ML)),
}


# Built-in role definition ids: the same GUIDs in every subscription and cloud.
ROLE_IDS = {_BLOB: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
            "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"}
ASSIGN = Need("Microsoft.Authorization/roleAssignments/write", "User Access Administrator or Owner")
BLOB_DATA = NEEDS["upload"]


def _field(permission: Any, name: str, wire: str) -> list[str]:
    value = permission.get(wire) if isinstance(permission, dict) else getattr(permission, name, None)
    return [str(v) for v in (value or [])]


def _matches(action: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


def allowed(permissions: Iterable[Any], need: Need) -> bool:
    for permission in permissions:
        if need.data:
            grants, denies = _field(permission, "data_actions", "dataActions"), \
                _field(permission, "not_data_actions", "notDataActions")
        else:
            grants, denies = _field(permission, "actions", "actions"), _field(permission, "not_actions", "notActions")
        if _matches(need.action, grants) and not _matches(need.action, denies):
            return True
    return False


def missing(permissions: Iterable[Any], step: str) -> list[Need]:
    """What `step` needs and the identity lacks. A blob data role the identity lacks is not listed
    when it may assign roles: the access step grants it (and its plan says so)."""
    permissions = list(permissions)
    may_assign = allowed(permissions, ASSIGN)
    return [need for need in NEEDS.get(step, ()) if not allowed(permissions, need) and not (need.data and may_assign)]


def az_line(principal_id: str, principal_type: str, role: str, scope: str) -> str:
    """The command an administrator runs to make one assignment."""
    return (f"az role assignment create --assignee-object-id {principal_id} --assignee-principal-type "
            f'{principal_type} --role "{role}" --scope {scope}')


def assignment_name(scope: str, role_id: str, principal_id: str) -> str:
    """A role assignment's name (a GUID) derived from what it grants: a re-run finds the same one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"amlbatch:{scope.lower()}|{role_id}|{principal_id.lower()}"))


DESCRIPTION_PREFIX = "amlbatch: "


def describe(tags: dict[str, str], for_whom: str) -> str:
    """Role assignments carry no tags: their description holds the ownership tags (and for whom)."""
    return DESCRIPTION_PREFIX + json.dumps({**tags, "for": for_whom}, sort_keys=True)


def described(description: Any) -> dict[str, str]:
    """The tags (and "for") a description written by `describe` holds; {} for any other text."""
    text = str(description or "")
    if not text.startswith(DESCRIPTION_PREFIX):
        return {}
    try:
        found = json.loads(text[len(DESCRIPTION_PREFIX):])
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def signed_in_principal(token: str) -> tuple[str, str]:
    """(object id, principal type) of whoever an Entra access token was issued to, from its
    documented `oid` claim; a token with delegated scopes (`scp`) is a user's."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return "", "User"
    return str(claims.get("oid") or ""), "User" if "scp" in claims else "ServicePrincipal"


def advice(step: str, needs: list[Need], scope: str) -> str:
    """One line: what is missing for `step` and the role that grants it, with the az command."""
    roles = sorted({n.role for n in needs})
    actions = ", ".join(n.action for n in needs)
    commands = "; ".join(f'az role assignment create --assignee <you> --role "{r}" --scope {scope}' for r in roles)
    return (f"{step}: you lack {actions} - granted by the built-in role {' or '.join(roles)}. "
            f"Ask an administrator: {commands}")


def rg_scope(profile: Any) -> str:
    return f"/subscriptions/{profile.account.subscription_id}/resourceGroups/{profile.workspace.resource_group}"


def signed_in(session: Any) -> tuple[str, str]:
    """(object id, principal type) of the session's signed-in identity, read once per target."""
    from engine.cloud import endpoints

    def read() -> tuple[str, str]:
        scope = endpoints(session.profile.account.cloud).arm_scope
        return signed_in_principal(session.credential.get_token(scope).token)
    return session.memo("signed-in principal", read)


def authorization(session: Any) -> Any:
    """An azure-mgmt-authorization client for the profile's subscription and cloud (use it in `with`)."""
    from azure.mgmt.authorization import AuthorizationManagementClient

    from engine.cloud import endpoints

    p = session.profile
    where = endpoints(p.account.cloud)
    return AuthorizationManagementClient(session.credential, p.account.subscription_id, base_url=where.arm,
                                         credential_scopes=[where.arm_scope], **session.client_options())


def read_permissions(session: Any) -> list[Any] | None:
    """The identity's effective permissions on the resource group (None: not readable, e.g. the
    group does not exist yet or the identity may not read them - then there is no preflight)."""
    from engine.targets.azure._base import say

    try:
        with authorization(session) as client:
            return list(client.permissions.list_for_resource_group(session.profile.workspace.resource_group))
    except Exception as exc:  # noqa: BLE001 - say why in the debug log; the steps still run
        say(f"permissions not checked ({type(exc).__name__}: {str(exc)[:200]})", "debug")
        return None
