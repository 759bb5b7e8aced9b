"""ARM: top-level resources by id (the generic catch-all: key vaults, app insights, ...), and the store of
every top-level resource the other modules create."""

from __future__ import annotations

import re

from . import _catalog
from ._core import RG
from ._http import ApiError, Request, Response, json_response, not_found, route

# Resource types the fake knows how to "provision" beyond storing the JSON.
STORAGE = "microsoft.storage/storageaccounts"
WORKSPACE = "microsoft.machinelearningservices/workspaces"


class GenericResourcesMixin:
    """``self.resources`` (lower-cased ARM id -> JSON) and the low-priority catch-all routes."""

    # ------------------------------------------------------------------ the resource store

    def resource(self, arm_id: str) -> dict | None:
        """The JSON the fake holds for an ARM id (resource group, top-level resource or AML child)."""
        with self._lock:
            key = arm_id.rstrip("/").lower()
            m = re.match(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)$", key)
            if m:
                return self.resource_groups.get((m.group(1), m.group(2)))
            if key in self.resources:
                return self.resources[key]
            return self._ml_child_resource(key)

    def _resources_in_group(self, sub: str, rg: str) -> list[dict]:
        prefix = f"/subscriptions/{sub}/resourcegroups/{rg}/".lower()
        return [r for k, r in self.resources.items() if k.startswith(prefix)]

    def _put_resource(self, arm_id: str, body: dict) -> dict:
        self.resources[arm_id.lower()] = body
        return body

    def _generic_resource_json(self, sub: str, rg: str, ns: str, rtype: str, name: str, body: dict) -> dict:
        group = self._rg(sub, rg)
        arm_id = f"/subscriptions/{sub}/resourceGroups/{group['name']}/providers/{ns}/{rtype}/{name}"
        out = {
            "id": arm_id,
            "name": name,
            "type": f"{ns}/{rtype}",
            "location": _catalog.normalize_location(body.get("location") or group["location"]),
            "tags": body.get("tags") or {},
            "properties": dict(body.get("properties") or {}),
        }
        for key in ("kind", "sku", "identity"):
            if body.get(key) is not None:
                out[key] = body[key]
        out["properties"]["provisioningState"] = "Succeeded"
        return out

    def _delete_resource(self, arm_id: str) -> bool:
        key = arm_id.lower()
        res = self.resources.pop(key, None)
        if res is None:
            return False
        self.drop_role_assignments(arm_id)  # ARM removes the assignments scoped to what it deletes
        rtype = res["type"].lower()
        if rtype == STORAGE:
            self.storage_accounts.pop(res["name"].lower(), None)
        elif rtype == WORKSPACE:
            self._forget_workspace(res, soft=True)
        return True

    def _generic_get(self, sub: str, rg: str, ns: str, rtype: str, name: str) -> dict:
        self._rg(sub, rg)
        arm_id = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{rtype}/{name}"
        res = self.resources.get(arm_id.lower())
        if res is None:
            raise not_found(f"The Resource '{ns}/{rtype}/{name}' under resource group '{rg}' was not found. For more "
                            "details please go to https://aka.ms/ARMResourceNotFoundFix")
        return res

    # ------------------------------------------------------------------ ARM's Tags API at any scope

    @route("GET,PATCH,PUT", "arm", "/{scope:.+}/providers/Microsoft.Resources/tags/default", priority=10)
    def arm_tags_at_scope(self, req: Request) -> Response:
        """Tags of the resource at `scope` (Tags - Get/Update/Create Or Update At Scope). PATCH takes
        {"operation": "Merge"|"Replace"|"Delete", "properties": {"tags": {...}}}. Only tracked resources
        (tags at the top level: groups, workspaces, clusters, endpoints, deployments) take tags here;
        the fake refuses the others, as it cannot say what Azure does with them."""
        res = self.resource("/" + req.match["scope"])
        if res is None:
            raise not_found(f"The resource '/{req.match['scope']}' was not found.")
        if "tags" not in res:
            raise ApiError(400, "InvalidResourceType", "The resource does not support tags at its top level.")
        if req.method != "GET":
            body = req.json()
            given = dict((body.get("properties") or {}).get("tags") or {})
            operation = body.get("operation", "Replace") if req.method == "PATCH" else "Replace"
            if operation == "Merge":
                res["tags"] = {**(res.get("tags") or {}), **given}
            elif operation == "Delete":
                res["tags"] = {k: v for k, v in (res.get("tags") or {}).items() if k not in given}
            else:
                res["tags"] = given
        return json_response({"id": f"/{req.match['scope']}/providers/Microsoft.Resources/tags/default",
                              "name": "default", "type": "Microsoft.Resources/tags",
                              "properties": {"tags": res.get("tags") or {}}})

    # ------------------------------------------------------------------ routes (catch-all, below every specific route)

    @route("GET,HEAD", "arm", RG + "/providers/{ns}/{rtype}/{name}", priority=-10)
    def arm_get_resource(self, req: Request) -> Response:
        m = req.match
        res = self._generic_get(m["sub"], m["rg"], m["ns"], m["rtype"], m["name"])
        return json_response(res) if req.method == "GET" else Response(204)

    @route("PUT", "arm", RG + "/providers/{ns}/{rtype}/{name}", priority=-10)
    def arm_put_resource(self, req: Request) -> Response:
        m = req.match
        existed = self.resources.get(
            f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}/providers/{m['ns']}/{m['rtype']}/{m['name']}".lower())
        body = req.json()
        if f"{m['ns']}/{m['rtype']}".lower() == STORAGE:
            res = self._create_storage_account(m["sub"], m["rg"], m["name"], body, req.host)
        else:
            res = self._generic_resource_json(m["sub"], m["rg"], m["ns"], m["rtype"], m["name"], body)
            self._put_resource(res["id"], res)
        return json_response(res, 200 if existed else 201)

    @route("PATCH", "arm", RG + "/providers/{ns}/{rtype}/{name}", priority=-10)
    def arm_patch_resource(self, req: Request) -> Response:
        m = req.match
        res = self._generic_get(m["sub"], m["rg"], m["ns"], m["rtype"], m["name"])
        body = req.json()
        if "tags" in body:
            res["tags"] = body["tags"] or {}
        res["properties"].update(body.get("properties") or {})
        return json_response(res)

    @route("DELETE", "arm", RG + "/providers/{ns}/{rtype}/{name}", priority=-10)
    def arm_delete_resource(self, req: Request) -> Response:
        m = req.match
        self._rg(m["sub"], m["rg"])
        arm_id = f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}/providers/{m['ns']}/{m['rtype']}/{m['name']}"
        if arm_id.lower() not in self.resources:
            return Response(204)
        self._delete_resource(arm_id)
        return Response(200)
