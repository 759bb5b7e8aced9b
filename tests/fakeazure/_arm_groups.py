"""ARM: resource groups (HEAD/GET/PUT/PATCH/DELETE, list) and the ``/resources`` listings."""

from __future__ import annotations

import re

from . import _catalog
from ._core import RG, SUB
from ._http import ApiError, Request, Response, json_response, route

RG_NAME_RE = re.compile(r"^[-\w._()]{1,90}$")


class ResourceGroupsMixin:
    """Resource groups; deleting one deletes what it holds (workspaces are soft-deleted)."""

    # ------------------------------------------------------------------ lookups and direct set-up

    def _rg(self, sub: str, rg: str, *, must_exist: bool = True) -> dict | None:
        self._subscription(sub)
        group = self.resource_groups.get((sub.lower(), rg.lower()))
        if group is None and must_exist:
            raise ApiError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        return group

    def add_resource_group(self, name: str, location: str = "eastus", *, subscription: str | None = None,
                           tags: dict | None = None) -> dict:
        """Create a resource group directly in the fake's state (test set-up without SDK calls)."""
        with self._lock:
            sub = self._sub_id(subscription)
            group = {"id": f"/subscriptions/{sub}/resourceGroups/{name}", "name": name,
                     "type": "Microsoft.Resources/resourceGroups", "location": _catalog.normalize_location(location),
                     "tags": dict(tags or {}), "properties": {"provisioningState": "Succeeded"}}
            self.resource_groups[(sub.lower(), name.lower())] = group
            return group

    # ------------------------------------------------------------------ routes

    @route("GET", "arm", SUB + "/resourcegroups")
    def arm_list_groups(self, req: Request) -> Response:
        sub = req.match["sub"]
        self._subscription(sub)
        groups = [g for (s, _), g in self.resource_groups.items() if s == sub.lower()]
        return json_response({"value": groups})

    @route("HEAD", "arm", RG)
    def arm_group_exists(self, req: Request) -> Response:
        group = self._rg(req.match["sub"], req.match["rg"], must_exist=False)
        return Response(204 if group else 404)

    @route("GET", "arm", RG)
    def arm_get_group(self, req: Request) -> Response:
        return json_response(self._rg(req.match["sub"], req.match["rg"]))

    @route("PUT", "arm", RG)
    def arm_put_group(self, req: Request) -> Response:
        sub, name = req.match["sub"], req.match["rg"]
        self._subscription(sub)
        body = req.json()
        if not RG_NAME_RE.match(name) or name.endswith("."):
            raise ApiError(400, "InvalidResourceGroup",
                           f"The provided resource group name '{name}' has these invalid characters: "
                           "Resource group names only allow alphanumeric characters, periods, underscores, hyphens "
                           "and parenthesis and cannot end in a period.")
        location = _catalog.normalize_location(body.get("location", ""))
        if not location:
            raise ApiError(400, "LocationRequired", "The location property is required for this definition.")
        if location not in self.locations:
            raise ApiError(400, "LocationNotAvailableForResourceGroup",
                           f"The provided location '{location}' is not available for resource group. List of "
                           f"available regions is '{','.join(self.locations)}'.")
        existing = self.resource_groups.get((sub.lower(), name.lower()))
        if existing is not None and existing["location"] != location:
            raise ApiError(409, "InvalidResourceGroupLocation",
                           f"Invalid resource group location '{location}'. The Resource group already exists in "
                           f"location '{existing['location']}'.")
        group = {
            "id": f"/subscriptions/{sub}/resourceGroups/{existing['name'] if existing else name}",
            "name": existing["name"] if existing else name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": location,
            "tags": body.get("tags") or {},
            "properties": {"provisioningState": "Succeeded"},
        }
        if body.get("managedBy"):
            group["managedBy"] = body["managedBy"]
        self.resource_groups[(sub.lower(), name.lower())] = group
        return json_response(group, 200 if existing else 201)

    @route("PATCH", "arm", RG)
    def arm_patch_group(self, req: Request) -> Response:
        group = self._rg(req.match["sub"], req.match["rg"])
        body = req.json()
        if "tags" in body:
            group["tags"] = body["tags"] or {}
        return json_response(group)

    @route("DELETE", "arm", RG)
    def arm_delete_group(self, req: Request) -> Response:
        sub, rg = req.match["sub"], req.match["rg"]
        group = self._rg(sub, rg, must_exist=False)
        if group is None:
            raise ApiError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")

        def delete():
            for res in list(self._resources_in_group(sub, rg)):
                self._delete_resource(res["id"])
            for key in [k for k in self.deployments if k[:2] == (sub.lower(), rg.lower())]:
                del self.deployments[key]
            self.drop_role_assignments(group["id"])
            self.resource_groups.pop((sub.lower(), rg.lower()), None)

        def failed(_err):
            group["properties"]["provisioningState"] = "Failed"

        group["properties"]["provisioningState"] = "Deleting"
        headers = self._start_lro(req, on_success=delete, on_failure=failed, async_header=False,
                                  namespace="Microsoft.Resources")
        return Response(202, None, headers)

    @route("GET", "arm", RG + "/resources")
    def arm_list_group_resources(self, req: Request) -> Response:
        """Resources - List By Resource Group: the group's top-level resources (workspaces, storage
        accounts, key vaults, insights...) with id, type, location and tags. Azure ML's child resources
        are not listed here; amlbatch reads those through Azure ML, so it does not depend on whether
        ARM shows them."""
        self._rg(req.match["sub"], req.match["rg"])
        items = [{k: r[k] for k in ("id", "name", "type", "location", "tags", "kind", "sku") if k in r}
                 for r in self._resources_in_group(req.match["sub"], req.match["rg"])]
        return json_response({"value": items})

    @route("GET", "arm", SUB + "/resources")
    def arm_list_sub_resources(self, req: Request) -> Response:
        self._subscription(req.match["sub"])
        prefix = f"/subscriptions/{req.match['sub']}/".lower()
        items = [{k: r[k] for k in ("id", "name", "type", "location", "tags", "kind", "sku") if k in r}
                 for key, r in self.resources.items() if key.startswith(prefix)]
        return json_response({"value": items})
