"""ARM: template deployments (Microsoft.Resources/deployments): PUT/GET/HEAD/list and ``/operations``.

A template's resources are planned with the expression evaluator of _template, validated first (ARM's
preflight, so a rejected deployment changes nothing), then created through the resource modules."""

from __future__ import annotations

import time
import uuid

from ._arm_resources import STORAGE, WORKSPACE
from ._arm_storage import STORAGE_NAME_RE
from ._core import RG, now_iso
from ._http import ApiError, Request, Response, json_response, route
from ._template import Context, TemplateError


class TemplateDeploymentsMixin:
    """Deployments answer in their terminal state at once (unless an LRO failure is injected)."""

    # ------------------------------------------------------------------ routes

    def _deployment_id(self, sub: str, rg: str, name: str) -> str:
        return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Resources/deployments/{name}"

    @route("GET", "arm", RG + "/providers/Microsoft.Resources/deployments/{name}")
    @route("GET", "arm", RG + "/deployments/{name}")
    def arm_get_deployment(self, req: Request) -> Response:
        m = req.match
        self._rg(m["sub"], m["rg"])
        dep = self.deployments.get((m["sub"].lower(), m["rg"].lower(), m["name"].lower()))
        if dep is None:
            raise ApiError(404, "DeploymentNotFound", f"Deployment '{m['name']}' could not be found.")
        return json_response(dep["json"])

    @route("HEAD", "arm", RG + "/providers/Microsoft.Resources/deployments/{name}")
    @route("HEAD", "arm", RG + "/deployments/{name}")
    def arm_deployment_exists(self, req: Request) -> Response:
        m = req.match
        dep = self.deployments.get((m["sub"].lower(), m["rg"].lower(), m["name"].lower()))
        return Response(204 if dep else 404)

    @route("GET", "arm", RG + "/providers/Microsoft.Resources/deployments")
    @route("GET", "arm", RG + "/deployments")
    def arm_list_deployments(self, req: Request) -> Response:
        m = req.match
        self._rg(m["sub"], m["rg"])
        return json_response({"value": [d["json"] for k, d in self.deployments.items()
                                        if k[:2] == (m["sub"].lower(), m["rg"].lower())]})

    @route("GET", "arm", RG + "/providers/Microsoft.Resources/deployments/{name}/operations")
    @route("GET", "arm", RG + "/deployments/{name}/operations")
    def arm_deployment_operations(self, req: Request) -> Response:
        m = req.match
        dep = self.deployments.get((m["sub"].lower(), m["rg"].lower(), m["name"].lower()))
        if dep is None:
            raise ApiError(404, "DeploymentNotFound", f"Deployment '{m['name']}' could not be found.")
        return json_response({"value": dep["operations"]})

    @route("PUT", "arm", RG + "/providers/Microsoft.Resources/deployments/{name}")
    @route("PUT", "arm", RG + "/deployments/{name}")
    def arm_put_deployment(self, req: Request) -> Response:
        m = req.match
        sub, rg, name = m["sub"], m["rg"], m["name"]
        group = self._rg(sub, rg)
        body = req.json()
        props = body.get("properties") or {}
        template = props.get("template")
        if not isinstance(template, dict):
            raise ApiError(400, "InvalidTemplate", "Deployment template is missing (templateLink is not supported "
                                                   "by FakeAzure).")
        dep_id = self._deployment_id(sub, group["name"], name)
        started = time.time()
        try:
            ctx = Context(template, props.get("parameters") or {}, subscription=self._subscription(sub),
                          resource_group={"id": group["id"], "name": group["name"], "location": group["location"],
                                          "tags": group.get("tags") or {}},
                          deployment_name=name)
            planned = self._plan_template(ctx, template.get("resources") or [])
        except TemplateError as exc:
            raise ApiError(400, "InvalidTemplate", f"Deployment template validation failed: '{exc}'.")
        # Validate everything first (ARM's preflight), so a rejected deployment changes nothing.
        for res in planned:
            self._preflight_template_resource(sub, group, res)
        operations, output_resources = [], []
        for res in planned:
            arm_id = self._apply_template_resource(sub, group, res, req)
            if arm_id is None:
                continue
            output_resources.append({"id": arm_id})
            op_id = uuid.uuid4().hex[:16].upper()
            operations.append({
                "id": f"{dep_id}/operations/{op_id}",
                "operationId": op_id,
                "properties": {
                    "provisioningOperation": "Create",
                    "provisioningState": "Succeeded",
                    "timestamp": now_iso(),
                    "duration": "PT1.5S",
                    "trackingId": str(uuid.uuid4()),
                    "serviceRequestId": str(uuid.uuid4()),
                    "statusCode": "OK",
                    "targetResource": {"id": arm_id, "resourceType": res["type"], "resourceName": res["name"]},
                },
            })
        duration = max(time.time() - started, 0.001)
        dep_json = {
            "id": dep_id,
            "name": name,
            "type": "Microsoft.Resources/deployments",
            "properties": {
                "templateHash": str(abs(hash(str(template))) % 10 ** 19),
                "parameters": {k: {"type": "String", "value": v} for k, v in ctx.params.items()
                               if isinstance(v, str)},
                "mode": props.get("mode", "Incremental"),
                "provisioningState": "Succeeded",
                "timestamp": now_iso(),
                "duration": f"PT{duration:.3f}S",
                "correlationId": str(uuid.uuid4()),
                "providers": [],
                "dependencies": [],
                "outputs": {},
                "outputResources": output_resources,
            },
        }
        key = (sub.lower(), rg.lower(), name.lower())
        existed = key in self.deployments
        self.deployments[key] = {"json": dep_json, "operations": operations}
        if req.lro_failure is not None:
            # An injected LRO failure: ARM accepted the deployment, then it failed.
            dep_json["properties"]["provisioningState"] = "Running"

            def failed(error):
                dep_json["properties"]["provisioningState"] = "Failed"
                dep_json["properties"]["error"] = {
                    "code": "DeploymentFailed",
                    "message": "At least one resource deployment operation failed. Please list deployment "
                               "operations for details.",
                    "details": [error]}

            headers = self._start_lro(req, on_failure=failed, location=group["location"],
                                      namespace="Microsoft.Resources")
            return json_response(dep_json, 201, headers)
        # Deployments answer in their terminal state at once: azure-ai-ml then never sleeps its 5 s poll.
        return json_response(dep_json, 200 if existed else 201)

    # ------------------------------------------------------------------ template resources

    def _plan_template(self, ctx: Context, resources: list[dict], parent: dict | None = None) -> list[dict]:
        planned = []
        for raw in resources:
            cond = raw.get("condition", True)
            if not ctx.evaluate(cond) if isinstance(cond, str) else not cond:
                continue
            rtype = ctx.evaluate(raw["type"])
            name = ctx.evaluate(raw["name"])
            if parent is not None and "/" not in rtype:
                rtype = f"{parent['type']}/{rtype}"
                name = f"{parent['name']}/{name}"
            if rtype.lower() == "microsoft.resources/deployments":
                continue  # nested deployments only appear for feature stores / private endpoints
            item = {"type": rtype, "name": name, "raw": raw, "ctx": ctx}
            for key in ("location", "tags", "kind", "sku", "identity", "properties"):
                if key in raw:
                    try:
                        item[key] = ctx.evaluate(raw[key])
                    except TemplateError:
                        if key == "properties":
                            raise
                        item[key] = None
            planned.append(item)
            planned.extend(self._plan_template(ctx, raw.get("resources") or [], item))
        return planned

    def _preflight_template_resource(self, sub: str, group: dict, res: dict) -> None:
        rtype = res["type"].lower()
        if rtype == STORAGE:
            name = res["name"]
            arm_id = f"/subscriptions/{sub}/resourceGroups/{group['name']}/providers/Microsoft.Storage/" \
                     f"storageAccounts/{name}"
            if not STORAGE_NAME_RE.match(name):
                raise ApiError(400, "InvalidTemplateDeployment", f"Storage account name '{name}' is invalid.",
                               details=[{"code": "AccountNameInvalid", "message": f"{name} is not a valid storage "
                                         "account name."}])
            if arm_id.lower() not in self.resources and (name in self.taken_storage_account_names
                                                         or name in self.storage_accounts):
                raise ApiError(400, "InvalidTemplateDeployment",
                               "The template deployment is not valid according to the validation procedure.",
                               details=[{"code": "StorageAccountAlreadyTaken",
                                         "message": f"The storage account named {name} is already taken."}])
        elif rtype == WORKSPACE:
            self._preflight_workspace(sub, group, res)

    def _apply_template_resource(self, sub: str, group: dict, res: dict, req: Request) -> str | None:
        rtype = res["type"].lower()
        body = {k: res.get(k) for k in ("location", "tags", "kind", "sku", "identity", "properties")
                if res.get(k) is not None}
        if rtype == STORAGE:
            return self._create_storage_account(sub, group["name"], res["name"], body, req.host)["id"]
        if rtype == WORKSPACE:
            return self._create_workspace(sub, group, res["name"], body, req)["id"]
        if rtype.startswith(WORKSPACE + "/"):
            return None  # workspace connections of feature stores: ignored
        if "/" in res["name"]:
            return None  # other child resources: ignored
        ns, rest = res["type"].split("/", 1)
        generic = self._generic_resource_json(sub, group["name"], ns, rest, res["name"], body)
        if rtype == "microsoft.insights/components":
            generic["properties"].setdefault("InstrumentationKey", str(uuid.uuid4()))
            generic["properties"]["ConnectionString"] = (
                f"InstrumentationKey={generic['properties']['InstrumentationKey']};"
                f"IngestionEndpoint=https://{generic['location']}.in.applicationinsights.azure.com/")
        if rtype == "microsoft.keyvault/vaults":
            generic["properties"]["vaultUri"] = f"https://{res['name']}.vault.azure.net/"
        self._put_resource(generic["id"], generic)
        return generic["id"]
