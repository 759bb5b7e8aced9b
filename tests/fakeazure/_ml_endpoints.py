"""Azure ML batch endpoints: GET/list/PUT/PATCH/DELETE; names are unique per region, scoring URIs point at
the fake's inference host (see _ml_invoke)."""

from __future__ import annotations

import copy
import re
import uuid

from ._core import WS
from ._http import Request, Response, bad_request, json_response, not_found, route
from ._ml_workspaces import WorkspaceState

ENDPOINT_NAME_RE = re.compile(r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")


class BatchEndpointsMixin:
    """Batch endpoints; their deployments are in _ml_deployments."""

    # ------------------------------------------------------------------ lookups

    def _endpoint(self, ws: WorkspaceState, name: str) -> dict:
        ep = ws.endpoints.get(name.lower())
        if ep is None:
            raise not_found(f"Batch endpoint '{name}' was not found in workspace '{ws.name}'.",
                            code="UserError")
        return ep

    def _endpoint_name_taken(self, ws: WorkspaceState, name: str) -> bool:
        if name.lower() in {n.lower() for n in self.taken_endpoint_names}:
            return True
        for other in self.workspaces.values():
            if other is ws or other.location != ws.location:
                continue
            if name.lower() in other.endpoints:
                return True
        return False

    def _check_tags(self, tags: dict | None, what: str) -> None:
        bad = [k for k, v in (tags or {}).items() if v is None or v == ""]
        if bad:
            errors = ", ".join(f'{{"PropertyName": "Tags.{k}", "ErrorMessage": "Tag values must not be null or '
                               f'empty."}}' for k in bad)
            raise bad_request(f"The {what} request provided has the following validation errors. Please resolve "
                              f"them and try again. Errors: [{errors}]", code="UserError")

    # ------------------------------------------------------------------ routes

    @route("GET", "arm", WS + "/batchEndpoints")
    def ml_list_endpoints(self, req: Request) -> Response:
        ws = self._ws(req)
        return json_response({"value": list(ws.endpoints.values()), "nextLink": None})

    @route("GET", "arm", WS + "/batchEndpoints/{ep}")
    def ml_get_endpoint(self, req: Request) -> Response:
        return json_response(self._endpoint(self._ws(req), req.match["ep"]))

    @route("PUT", "arm", WS + "/batchEndpoints/{ep}")
    def ml_put_endpoint(self, req: Request) -> Response:
        ws = self._ws(req)
        name = req.match["ep"]
        if not (3 <= len(name) <= 32) or not ENDPOINT_NAME_RE.match(name):
            raise bad_request(f"Endpoint name '{name}' is invalid. It must be 3-32 characters, start with a letter, "
                              "and contain only letters, digits and '-' (not at the end).", code="UserError")
        body = req.json()
        current = ws.endpoints.get(name.lower())
        if current is None and self._endpoint_name_taken(ws, name):
            raise bad_request(f"The specified endpoint name '{name}' is not available. Endpoint names must be unique "
                              "within the region. Please choose a different name and try again.", code="UserError")
        self._check_tags(body.get("tags"), "Endpoint")
        props = copy.deepcopy(body.get("properties") or {})
        default = (props.get("defaults") or {}).get("deploymentName")
        if default and default.lower() not in ws.deployments.get(name.lower(), {}):
            raise bad_request(f"The default deployment '{default}' does not exist under batch endpoint '{name}'. "
                              "Create the deployment first.", code="UserError")
        props.setdefault("authMode", "AADToken")
        props["defaults"] = {"deploymentName": default} if default else (
            current["properties"].get("defaults") if current and "defaults" not in (body.get("properties") or {})
            else {"deploymentName": None})
        ep_name = current["name"] if current else name
        props["scoringUri"] = f"https://{ep_name.lower()}.{ws.location}.inference.ml.azure.com/jobs"
        props["swaggerUri"] = None
        props["provisioningState"] = "Creating" if current is None else "Updating"
        props.setdefault("properties", {})
        props["properties"].setdefault("BatchEndpointCreationApiVersion", "2024-10-01")
        endpoint = {
            "id": ws.child_id("batchEndpoints", ep_name), "name": ep_name,
            "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints",
            "location": ws.location, "tags": body.get("tags") or {}, "kind": body.get("kind"),
            "identity": body.get("identity") or {"type": "SystemAssigned", "principalId": str(uuid.uuid4()),
                                                 "tenantId": self._subscription(ws.sub)["tenant"]},
            "properties": props,
            "systemData": self._system_data(req, (current or {}).get("systemData")),
        }
        ws.endpoints[name.lower()] = endpoint
        ws.deployments.setdefault(name.lower(), {})
        return self._accepted_put(req, ws, endpoint, current)

    @route("PATCH", "arm", WS + "/batchEndpoints/{ep}")
    def ml_patch_endpoint(self, req: Request) -> Response:
        ws = self._ws(req)
        ep = self._endpoint(ws, req.match["ep"])
        body = req.json()
        if body.get("tags") is not None:
            self._check_tags(body["tags"], "Endpoint")
            ep["tags"] = body["tags"]
        default = ((body.get("properties") or {}).get("defaults") or {}).get("deploymentName")
        if default:
            if default.lower() not in ws.deployments.get(ep["name"].lower(), {}):
                raise bad_request(f"The default deployment '{default}' does not exist under batch endpoint "
                                  f"'{ep['name']}'.", code="UserError")
            ep["properties"]["defaults"] = {"deploymentName": default}
        headers = self._start_lro(req, location=ws.location)
        return json_response(ep, 202, headers)

    @route("DELETE", "arm", WS + "/batchEndpoints/{ep}")
    def ml_delete_endpoint(self, req: Request) -> Response:
        ws = self._ws(req)
        name = req.match["ep"].lower()
        ep = ws.endpoints.get(name)
        if ep is None:
            return Response(204)
        ep["properties"]["provisioningState"] = "Deleting"

        def done():
            ws.endpoints.pop(name, None)
            ws.deployments.pop(name, None)

        def failed(_e):
            ep["properties"]["provisioningState"] = "Failed"

        headers = self._start_lro(req, on_success=done, on_failure=failed, location=ws.location,
                                  location_header=True)
        return Response(202, None, headers)

    @route("POST", "arm", WS + "/batchEndpoints/{ep}/listkeys")
    def ml_endpoint_keys(self, req: Request) -> Response:
        self._endpoint(self._ws(req), req.match["ep"])
        raise bad_request("Keys are not supported for batch endpoints (authMode AADToken).", code="UserError")
