"""Azure ML batch deployments (under a batch endpoint): GET/list/PUT/PATCH/DELETE; the compute, model,
environment and code they reference must exist in the workspace."""

from __future__ import annotations

import copy

from ._core import WS
from ._http import Request, Response, bad_request, json_response, not_found, route
from ._ml_endpoints import ENDPOINT_NAME_RE


class BatchDeploymentsMixin:
    """``WorkspaceState.deployments[endpoint][deployment]``."""

    @route("GET", "arm", WS + "/batchEndpoints/{ep}/deployments")
    def ml_list_deployments(self, req: Request) -> Response:
        ws = self._ws(req)
        self._endpoint(ws, req.match["ep"])
        return json_response({"value": list(ws.deployments.get(req.match["ep"].lower(), {}).values()),
                              "nextLink": None})

    @route("GET", "arm", WS + "/batchEndpoints/{ep}/deployments/{dep}")
    def ml_get_deployment(self, req: Request) -> Response:
        ws = self._ws(req)
        self._endpoint(ws, req.match["ep"])
        dep = ws.deployments.get(req.match["ep"].lower(), {}).get(req.match["dep"].lower())
        if dep is None:
            raise not_found(f"Deployment '{req.match['dep']}' was not found under batch endpoint "
                            f"'{req.match['ep']}'.", code="UserError")
        return json_response(dep)

    @route("PUT", "arm", WS + "/batchEndpoints/{ep}/deployments/{dep}")
    def ml_put_deployment(self, req: Request) -> Response:
        ws = self._ws(req)
        ep = self._endpoint(ws, req.match["ep"])
        name = req.match["dep"]
        if not (3 <= len(name) <= 32) or not ENDPOINT_NAME_RE.match(name):
            raise bad_request(f"Deployment name '{name}' is invalid. It must be 3-32 characters, start with a "
                              "letter, and contain only letters, digits and '-'.", code="UserError")
        body = req.json()
        self._check_tags(body.get("tags"), "Deployment")
        props = copy.deepcopy(body.get("properties") or {})
        compute = props.get("compute")
        if compute:
            cname = compute.rstrip("/").split("/")[-1]
            if cname.lower() not in ws.computes:
                raise bad_request(f"Compute '{cname}' referenced by deployment '{name}' was not found in workspace "
                                  f"'{ws.name}'.", code="UserError")
        model = props.get("model") or {}
        model_version = self._resolve_asset_ref(ws, model["assetId"], "models") if model.get("assetId") else None
        if props.get("environmentId"):
            self._resolve_asset_ref(ws, props["environmentId"], "environments")
        code = (props.get("codeConfiguration") or {}).get("codeId")
        if code:
            self._resolve_asset_ref(ws, code, "codes")
        if model_version is not None:
            self._check_scoring_parts(model_version, code, props.get("environmentId"))
        level = props.get("loggingLevel")
        if level is not None and str(level).lower() not in ("info", "warning", "debug"):
            # BatchLoggingLevel (2024-01-01-preview and later): Info, Warning, Debug
            raise bad_request(f"The field loggingLevel has an invalid value '{level}'. Allowed values: Info, "
                              "Warning, Debug.", code="UserError")
        current = ws.deployments.get(ep["name"].lower(), {}).get(name.lower())
        props.setdefault("deploymentConfiguration", None)
        if props.get("deploymentConfiguration") is None:
            props.setdefault("outputAction", "AppendRow")
            props.setdefault("outputFileName", "predictions.csv")
            props.setdefault("miniBatchSize", 10)
            props.setdefault("maxConcurrencyPerInstance", 1)
            props.setdefault("errorThreshold", -1)
            props.setdefault("loggingLevel", "Info")
            props.setdefault("retrySettings", {"maxRetries": 3, "timeout": "PT30S"})
            props.setdefault("resources", {"instanceCount": 1})
        props["provisioningState"] = "Creating" if current is None else "Updating"
        dep = {
            "id": ws.child_id("batchEndpoints", ep["name"], "deployments", name), "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints/deployments",
            "location": ws.location, "tags": body.get("tags") or {}, "kind": body.get("kind"),
            "properties": props, "systemData": self._system_data(req, (current or {}).get("systemData")),
        }
        ws.deployments.setdefault(ep["name"].lower(), {})[name.lower()] = dep
        return self._accepted_put(req, ws, dep, current)

    @staticmethod
    def _check_scoring_parts(model_version: dict, code: str | None, environment: str | None) -> None:
        """Azure's rule: a scoring script needs an environment; only an MLflow model deploys without
        either (Azure generates both for it)."""
        if code and not environment:
            raise bad_request("An environment is required for a deployment with a scoring script.", code="UserError")
        model_type = (model_version.get("properties") or {}).get("modelType")
        if not code and model_type != "mlflow_model":
            raise bad_request(f"A scoring script (codeConfiguration) and an environment are required for a model of "
                              f"type '{model_type}'; only MLflow models deploy without them.", code="UserError")

    @route("PATCH", "arm", WS + "/batchEndpoints/{ep}/deployments/{dep}")
    def ml_patch_deployment(self, req: Request) -> Response:
        ws = self._ws(req)
        self._endpoint(ws, req.match["ep"])
        dep = ws.deployments.get(req.match["ep"].lower(), {}).get(req.match["dep"].lower())
        if dep is None:
            raise not_found(f"Deployment '{req.match['dep']}' was not found.", code="UserError")
        body = req.json()
        if body.get("tags") is not None:
            dep["tags"] = body["tags"]
        for k, v in (body.get("properties") or {}).items():
            dep["properties"][k] = v
        headers = self._start_lro(req, location=ws.location)
        return json_response(dep, 202, headers)

    @route("DELETE", "arm", WS + "/batchEndpoints/{ep}/deployments/{dep}")
    def ml_delete_deployment(self, req: Request) -> Response:
        ws = self._ws(req)
        ep = self._endpoint(ws, req.match["ep"])
        deps = ws.deployments.get(ep["name"].lower(), {})
        dep = deps.get(req.match["dep"].lower())
        if dep is None:
            return Response(204)
        default = (ep["properties"].get("defaults") or {}).get("deploymentName")
        if default and default.lower() == dep["name"].lower() and len(deps) > 1:
            raise bad_request(f"Deployment '{dep['name']}' is the default deployment of endpoint '{ep['name']}'. "
                              "Change the default before deleting it.", code="UserError")

        def done():
            deps.pop(dep["name"].lower(), None)
            if default and default.lower() == dep["name"].lower():
                ep["properties"]["defaults"] = {"deploymentName": None}

        headers = self._start_lro(req, on_success=done, location=ws.location, location_header=True)
        return Response(202, None, headers)
