"""ARM: Microsoft.Authorization - role definitions, role assignments and effective permissions, and the
access decisions the other parts of the fake enforce with them.

Who may do what: every bearer caller holds ``caller_permissions`` (permissions as the permissions API
returns them; default ``OWNER_WITH_DATA``: an Owner who also holds every blob data action), plus the
permissions of the role definitions of every role assignment to its object id (the token's ``oid``)
at the scope or above. ``without_blob_data_role()`` and ``without_role_assignment_rights()`` take
those rights away from the caller's own. ARM writes (PUT/PATCH/DELETE/POST) without the action get 403
AuthorizationFailed; blob requests with a bearer token without the data action get 403
AuthorizationPermissionMismatch (see _blob_auth).
"""

from __future__ import annotations

import copy
import fnmatch
import re
import uuid
from urllib.parse import unquote

from ._core import now_iso
from ._http import ApiError, Request, Response, json_response, route

AUTH = "/providers/Microsoft.Authorization"
BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
CONTAINERS = "Microsoft.Storage/storageAccounts/blobServices/containers"

# Built-in roles (ids as in every subscription), with the permissions that matter here.
ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": ("Owner", {"actions": ["*"]}),
    "b24988ac-6180-42a0-ab88-20f7382dd24c": ("Contributor", {
        "actions": ["*"], "notActions": ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                                         "Microsoft.Authorization/elevateAccess/Action"]}),
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": ("Reader", {"actions": ["*/read"]}),
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": ("User Access Administrator", {
        "actions": ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"]}),
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": ("Storage Blob Data Contributor", {
        "actions": [f"{CONTAINERS}/delete", f"{CONTAINERS}/read", f"{CONTAINERS}/write",
                    "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"],
        "dataActions": [f"{BLOBS}/delete", f"{BLOBS}/read", f"{BLOBS}/write", f"{BLOBS}/move/action",
                        f"{BLOBS}/add/action"]}),
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": ("Storage Blob Data Reader", {
        "actions": [f"{CONTAINERS}/read"], "dataActions": [f"{BLOBS}/read"]}),
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": ("Storage Blob Data Owner", {
        "actions": [f"{CONTAINERS}/*"], "dataActions": [f"{BLOBS}/*"]}),
    "f6c7c914-8db3-469d-8ca1-694a8f32e121": ("AzureML Data Scientist", {
        "actions": ["Microsoft.MachineLearningServices/workspaces/*/read",
                    "Microsoft.MachineLearningServices/workspaces/*/action",
                    "Microsoft.MachineLearningServices/workspaces/*/delete",
                    "Microsoft.MachineLearningServices/workspaces/*/write"],
        "notActions": ["Microsoft.MachineLearningServices/workspaces/delete",
                       "Microsoft.MachineLearningServices/workspaces/write",
                       "Microsoft.MachineLearningServices/workspaces/computes/*/write",
                       "Microsoft.MachineLearningServices/workspaces/computes/*/delete"]}),
}
OWNER_WITH_DATA = [{"actions": ["*"], "notActions": [], "dataActions": ["Microsoft.Storage/*"], "notDataActions": []}]
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _permission(body: dict) -> dict:
    return {"actions": list(body.get("actions", [])), "notActions": list(body.get("notActions", [])),
            "dataActions": list(body.get("dataActions", [])), "notDataActions": list(body.get("notDataActions", []))}


def _matches(action: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


def permits(permissions: list[dict], action: str, data: bool = False) -> bool:
    """Azure RBAC: one permission grants the action and none of its own exclusions remove it."""
    grant, deny = ("dataActions", "notDataActions") if data else ("actions", "notActions")
    return any(_matches(action, p.get(grant) or []) and not _matches(action, p.get(deny) or [])
               for p in permissions)


def covers(assignment_scope: str, scope: str) -> bool:
    """An assignment at `assignment_scope` applies at `scope` (the same or a parent)."""
    outer, inner = assignment_scope.rstrip("/").lower(), scope.rstrip("/").lower()
    return outer == "" or inner == outer or inner.startswith(outer + "/")


def arm_action(path: str, method: str) -> str:
    """The RBAC action of an ARM request: <namespace>/<types>/write|delete, or .../<name>/action for POST."""
    parts = [p for p in path.split("/") if p]
    low = [p.lower() for p in parts]
    if "providers" not in low:  # /subscriptions/{sub}/resourceGroups/{rg}
        types, namespace = ["subscriptions", "resourceGroups"][: max(1, len(parts) // 2)], "Microsoft.Resources"
        rest_is_action = False
    else:
        at = len(low) - 1 - low[::-1].index("providers")
        namespace, rest = parts[at + 1], parts[at + 2:]
        rest_is_action = method == "POST"
        types = rest[0::2] if not rest_is_action else rest[0:-1:2] + rest[-1:]
    verb = "action" if rest_is_action else {"DELETE": "delete"}.get(method, "write")
    return "/".join([namespace, *types, verb])


class AuthorizationMixin:
    """``role_assignments`` (lower-cased id -> JSON), ``caller_permissions``; the checks used elsewhere."""

    # ------------------------------------------------------------------ knobs

    def without_blob_data_role(self) -> None:
        """The caller's own rights lose every blob data action (as an Owner or Contributor without a
        Storage Blob Data role)."""
        self.caller_permissions = [{**p, "dataActions": [], "notDataActions": []} for p in self.caller_permissions]

    def without_role_assignment_rights(self) -> None:
        """The caller may not write or delete role assignments (as a Contributor)."""
        self.caller_permissions = [{**p, "notActions": [*p.get("notActions", []), "Microsoft.Authorization/*/Write",
                                                          "Microsoft.Authorization/*/Delete"]}
                                   for p in self.caller_permissions]

    def add_role_assignment(self, scope: str, principal_id: str, role: str, *, description: str = "",
                            principal_type: str = "ServicePrincipal") -> dict:
        """Make a role assignment directly (as an administrator would); `role` is a built-in name or id."""
        role_id = next((rid for rid, (name, _) in ROLES.items() if role in (name, rid)), role)
        sub = scope.strip("/").split("/")[1] if scope.lower().startswith("/subscriptions/") else ""
        return self._store_assignment(scope, str(uuid.uuid4()), {
            "roleDefinitionId": f"/subscriptions/{sub}{AUTH}/roleDefinitions/{role_id}",
            "principalId": principal_id, "principalType": principal_type, "description": description}, "admin")

    def drop_role_assignments(self, scope: str) -> None:
        """A deleted resource (or group) takes the role assignments at and below its scope with it."""
        for key in [k for k, a in self.role_assignments.items() if covers(scope, a["properties"]["scope"])]:
            del self.role_assignments[key]

    # ------------------------------------------------------------------ decisions

    def effective_permissions(self, oid: str, scope: str) -> list[dict]:
        return [_permission(p) for p in self.caller_permissions] + self.assigned_permissions(oid, scope)

    def assigned_permissions(self, oid: str, scope: str) -> list[dict]:
        """What role assignments give `oid` at `scope` (all a managed identity has: it holds no caller rights)."""
        found = []
        for assignment in self.role_assignments.values():
            props = assignment["properties"]
            if props["principalId"].lower() == (oid or "").lower() and covers(props["scope"], scope):
                role = ROLES.get(props["roleDefinitionId"].rsplit("/", 1)[-1].lower())
                if role:
                    found.append(_permission(role[1]))
        return found

    def _check_arm_write(self, req: Request, claims: dict) -> None:
        if req.kind != "arm" or req.method not in ("PUT", "PATCH", "DELETE", "POST"):
            return
        action = arm_action(req.path, req.method)
        scope = req.path.rstrip("/")
        if not permits(self.effective_permissions(claims.get("oid", ""), scope), action):
            who = claims.get("appid") or claims.get("upn") or claims.get("oid")
            raise ApiError(403, "AuthorizationFailed",
                           f"The client '{who}' with object id '{claims.get('oid')}' does not have authorization to "
                           f"perform action '{action}' over scope '{scope}' or the scope is invalid. If access was "
                           "recently granted, please refresh your credentials.")

    def storage_scope(self, account: str) -> str:
        """The ARM id of a storage account the fake holds ("" when it exists on the data plane only)."""
        for res in self.resources.values():
            if res.get("type", "").lower() == "microsoft.storage/storageaccounts" \
                    and res.get("name", "").lower() == account.lower():
                return res["id"]
        return ""

    # ------------------------------------------------------------------ routes

    def _scope_of(self, req: Request) -> str:
        scope = re.sub("/+", "/", "/" + req.match["scope"].strip("/"))  # an empty parent path gives "//"
        if re.match(r"^/subscriptions/[^/]+/resourcegroups/[^/]+", scope, re.I):
            parts = scope.split("/")
            self._rg(parts[2], parts[4])  # 404 ResourceGroupNotFound, as Azure answers
            if len(parts) > 5 and self.resource(scope) is None:
                raise ApiError(404, "ResourceNotFound", f"The Resource '{scope}' was not found.")
        return scope

    @route("GET", "arm", "/{scope:.+}" + AUTH + "/permissions", priority=10)
    def arm_permissions(self, req: Request) -> Response:
        """Permissions - List For Resource Group / List For Resource: the caller's effective permissions."""
        scope = self._scope_of(req)
        claims = self._bearer_claims(req) or {}
        return json_response({"value": self.effective_permissions(claims.get("oid", ""), scope), "nextLink": None})

    @route("GET", "arm", "/{scope:.+}" + AUTH + "/roleDefinitions/{name}", priority=10)
    def arm_role_definition(self, req: Request) -> Response:
        role = ROLES.get(req.match["name"].lower())
        if role is None:
            raise ApiError(404, "RoleDefinitionDoesNotExist",
                           f"The specified role definition with ID '{req.match['name']}' does not exist.")
        scope = "/" + req.match["scope"].strip("/")
        return json_response({
            "id": f"{scope}{AUTH}/roleDefinitions/{req.match['name'].lower()}", "name": req.match["name"].lower(),
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {"roleName": role[0], "type": "BuiltInRole", "assignableScopes": ["/"],
                           "permissions": [_permission(role[1])]}})

    @route("PUT", "arm", "/{scope:.+}" + AUTH + "/roleAssignments/{name}", priority=10)
    def arm_put_role_assignment(self, req: Request) -> Response:
        scope, name = self._scope_of(req), req.match["name"]
        if not GUID.match(name):
            raise ApiError(400, "InvalidRoleAssignmentId", f"The role assignment ID '{name}' is not valid. The "
                                                            "role assignment ID must be a GUID.")
        props = (req.json() or {}).get("properties") or {}
        role_id = str(props.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower()
        if role_id not in ROLES:
            raise ApiError(400, "RoleDefinitionDoesNotExist",
                           f"The specified role definition with ID '{role_id}' does not exist.")
        if not props.get("principalId"):
            raise ApiError(400, "InvalidPrincipalId", "A valid principal ID must be provided for role assignment.")
        existing = self.role_assignments.get(f"{scope}{AUTH}/roleAssignments/{name}".lower())
        same = [a for a in self.role_assignments.values()
                if a["properties"]["scope"].lower() == scope.lower()
                and a["properties"]["principalId"].lower() == props["principalId"].lower()
                and a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1].lower() == role_id]
        if existing is not None:
            if existing["properties"]["principalId"].lower() != props["principalId"].lower() or not same:
                raise ApiError(409, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, "
                                                                       "and scope are not allowed to be updated.")
            return json_response(existing, 201)
        if same:
            raise ApiError(409, "RoleAssignmentExists", "The role assignment already exists.",
                           details=[{"code": "RoleAssignmentExists", "message": f"The ID of the existing role "
                                                                                 f"assignment is {same[0]['name']}."}])
        who = (self._bearer_claims(req) or {}).get("oid", "")
        return json_response(self._store_assignment(scope, name, props, who), 201)

    def _store_assignment(self, scope: str, name: str, props: dict, who: str) -> dict:
        now = now_iso()
        assignment = {
            "id": f"{scope}{AUTH}/roleAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"roleDefinitionId": props["roleDefinitionId"], "principalId": props["principalId"],
                           "principalType": props.get("principalType") or "User", "scope": scope,
                           "condition": props.get("condition"), "conditionVersion": props.get("conditionVersion"),
                           "description": props.get("description"), "createdOn": now, "updatedOn": now,
                           "createdBy": who, "updatedBy": who, "delegatedManagedIdentityResourceId": None}}
        self.role_assignments[assignment["id"].lower()] = assignment
        return copy.deepcopy(assignment)

    @route("GET", "arm", "/{scope:.+}" + AUTH + "/roleAssignments/{name}", priority=10)
    def arm_get_role_assignment(self, req: Request) -> Response:
        scope = "/" + req.match["scope"].strip("/")
        found = self.role_assignments.get(f"{scope}{AUTH}/roleAssignments/{req.match['name']}".lower())
        if found is None:
            raise ApiError(404, "RoleAssignmentNotFound", f"The role assignment '{req.match['name']}' is not found.")
        return json_response(found)

    @route("DELETE", "arm", "/{scope:.+}" + AUTH + "/roleAssignments/{name}", priority=10)
    def arm_delete_role_assignment(self, req: Request) -> Response:
        scope = "/" + req.match["scope"].strip("/")
        found = self.role_assignments.pop(f"{scope}{AUTH}/roleAssignments/{req.match['name']}".lower(), None)
        return json_response(found) if found is not None else Response(204)

    @route("GET", "arm", "/{scope:.+}" + AUTH + "/roleAssignments", priority=10)
    def arm_list_role_assignments(self, req: Request) -> Response:
        """Role Assignments - List For Scope: at, above and below the scope; $filter atScope() (at or
        above), principalId eq '{id}' or assignedTo('{id}')."""
        scope = self._scope_of(req)
        text = unquote(req.query.get("$filter", "") or "")
        principal = re.search(r"principalId eq '([^']+)'|assignedTo\('([^']+)'\)", text, re.I)
        at_scope = "atscope()" in text.lower().replace(" ", "")
        found = []
        for a in self.role_assignments.values():
            props = a["properties"]
            above = covers(props["scope"], scope)
            if not (above or (not at_scope and covers(scope, props["scope"]))):
                continue
            if principal and props["principalId"].lower() != (principal.group(1) or principal.group(2)).lower():
                continue
            found.append(a)
        return json_response({"value": found})
