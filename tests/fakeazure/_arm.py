"""Azure Resource Manager: subscriptions, tenants, locations, providers, resource groups, generic
resources (storage accounts, key vaults, ...), template deployments and operation polling."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from . import _catalog
from ._http import ApiError, Request, Response, json_response, not_found, route
from ._template import Context, TemplateError

SUB = "/subscriptions/{sub}"
RG = SUB + "/resourceGroups/{rg}"
RG_NAME_RE = re.compile(r"^[-\w._()]{1,90}$")
STORAGE_NAME_RE = re.compile(r"^[a-z0-9]{3,24}$")

# Resource types the fake knows how to "provision" beyond storing the JSON.
STORAGE = "microsoft.storage/storageaccounts"
WORKSPACE = "microsoft.machinelearningservices/workspaces"


def _now() -> str:
    from ._core import now_iso
    return now_iso()


class ArmMixin:
    # ------------------------------------------------------------------ state

    def _init_arm_state(self) -> None:
        self.resource_groups: dict[tuple[str, str], dict] = {}
        self.resources: dict[str, dict] = {}  # lower-cased ARM id -> resource JSON (top-level resources)
        self.deployments: dict[tuple[str, str, str], dict] = {}
        self.taken_storage_account_names: set[str] = set()
        self.registered_providers: dict[tuple[str, str], str] = {}

    # ------------------------------------------------------------------ helpers used across mixins

    def _rg(self, sub: str, rg: str, *, must_exist: bool = True) -> dict | None:
        self._subscription(sub)
        group = self.resource_groups.get((sub.lower(), rg.lower()))
        if group is None and must_exist:
            raise ApiError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        return group

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

    def _create_storage_account(self, sub: str, rg: str, name: str, body: dict) -> dict:
        if not STORAGE_NAME_RE.match(name):
            raise ApiError(400, "AccountNameInvalid",
                           f"{name} is not a valid storage account name. Storage account name must be between 3 "
                           "and 24 characters in length and use numbers and lower-case letters only.")
        group = self._rg(sub, rg)
        arm_id = f"/subscriptions/{sub}/resourceGroups/{group['name']}/providers/Microsoft.Storage/storageAccounts/{name}"
        existing = self.resources.get(arm_id.lower())
        if existing is None and (name in self.taken_storage_account_names or name in self.storage_accounts):
            raise ApiError(409, "StorageAccountAlreadyTaken",
                           f"The storage account named {name} is already taken.")
        out = self._generic_resource_json(sub, rg, "Microsoft.Storage", "storageAccounts", name, body)
        out.setdefault("sku", {"name": "Standard_LRS", "tier": "Standard"})
        out.setdefault("kind", "StorageV2")
        props = out["properties"]
        props.update({
            "primaryEndpoints": {k: f"https://{name}.{k}.core.windows.net/" for k in ("blob", "file", "queue",
                                                                                         "table", "dfs", "web")},
            "primaryLocation": out["location"],
            "statusOfPrimary": "available",
            "creationTime": (existing or {}).get("properties", {}).get("creationTime", _now()),
            "accessTier": props.get("accessTier", "Hot"),
            "supportsHttpsTrafficOnly": props.get("supportsHttpsTrafficOnly", True),
            "allowBlobPublicAccess": props.get("allowBlobPublicAccess", False),
            "minimumTlsVersion": props.get("minimumTlsVersion", "TLS1_2"),
            "isHnsEnabled": bool(props.get("isHnsEnabled") or False),
        })
        self._ensure_blob_account(name)
        return self._put_resource(arm_id, out)

    def _delete_resource(self, arm_id: str) -> bool:
        key = arm_id.lower()
        res = self.resources.pop(key, None)
        if res is None:
            return False
        rtype = res["type"].lower()
        if rtype == STORAGE:
            self.storage_accounts.pop(res["name"].lower(), None)
        elif rtype == WORKSPACE:
            self._forget_workspace(res, soft=True)
        return True

    # ------------------------------------------------------------------ subscriptions, tenants, locations

    def _subscription_json(self, s: dict) -> dict:
        return {
            "id": f"/subscriptions/{s['id']}",
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "subscriptionId": s["id"],
            "tenantId": s["tenant"],
            "displayName": s["name"],
            "state": s["state"],
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01",
                                     "spendingLimit": "Off"},
            "tags": {},
        }

    @route("GET", "arm", "/subscriptions")
    def arm_list_subscriptions(self, req: Request) -> Response:
        tid = (self._caller(req)["tid"] or "").lower()
        subs = [self._subscription_json(s) for s in self.subscriptions.values() if s["tenant"].lower() == tid]
        return json_response({"value": subs, "count": {"type": "Total", "value": len(subs)}})

    @route("GET", "arm", SUB)
    def arm_get_subscription(self, req: Request) -> Response:
        return json_response(self._subscription_json(self._subscription(req.match["sub"])))

    @route("GET", "arm", SUB + "/locations")
    def arm_list_locations(self, req: Request) -> Response:
        s = self._subscription(req.match["sub"])
        return json_response({"value": [_catalog.location_json(s["id"], l) for l in self.locations]})

    @route("GET", "arm", "/tenants")
    def arm_list_tenants(self, req: Request) -> Response:
        return json_response({"value": [{
            "id": f"/tenants/{t}", "tenantId": t, "countryCode": "US", "tenantCategory": "Home",
            "displayName": f"Fake Tenant {i + 1}", "domains": [f"faketenant{i + 1}.onmicrosoft.com"],
            "defaultDomain": f"faketenant{i + 1}.onmicrosoft.com", "tenantType": "AAD",
        } for i, t in enumerate(self.tenants)]})

    # ------------------------------------------------------------------ resource providers

    def _provider_json(self, sub: str, ns: str) -> dict:
        state = self.registered_providers.get((sub.lower(), ns.lower()), "Registered")
        displays = [_catalog.REGIONS.get(l, (l,))[0] for l in self.locations]
        types = {"microsoft.machinelearningservices": ["workspaces", "workspaces/computes", "workspaces/batchEndpoints",
                                                        "locations/vmSizes", "locations/usages"],
                 "microsoft.storage": ["storageAccounts"], "microsoft.keyvault": ["vaults"]}.get(ns.lower(), [])
        return {"id": f"/subscriptions/{sub}/providers/{ns}", "namespace": ns, "registrationState": state,
                "registrationPolicy": "RegistrationRequired",
                "resourceTypes": [{"resourceType": t, "locations": displays, "apiVersions": ["2024-10-01"]}
                                  for t in types]}

    @route("GET", "arm", SUB + "/providers/{ns}")
    def arm_get_provider(self, req: Request) -> Response:
        self._subscription(req.match["sub"])
        return json_response(self._provider_json(req.match["sub"], req.match["ns"]))

    @route("GET", "arm", SUB + "/providers")
    def arm_list_providers(self, req: Request) -> Response:
        sub = req.match["sub"]
        self._subscription(sub)
        names = ["Microsoft.MachineLearningServices", "Microsoft.Storage", "Microsoft.KeyVault", "Microsoft.Insights",
                 "Microsoft.OperationalInsights", "Microsoft.ContainerRegistry", "Microsoft.Resources"]
        return json_response({"value": [self._provider_json(sub, n) for n in names]})

    @route("POST", "arm", SUB + "/providers/{ns}/register")
    def arm_register_provider(self, req: Request) -> Response:
        sub, ns = req.match["sub"], req.match["ns"]
        self._subscription(sub)
        self.registered_providers[(sub.lower(), ns.lower())] = "Registered"
        return json_response(self._provider_json(sub, ns))

    # ------------------------------------------------------------------ resource groups

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
            self.resource_groups.pop((sub.lower(), rg.lower()), None)

        def failed(_err):
            group["properties"]["provisioningState"] = "Failed"

        group["properties"]["provisioningState"] = "Deleting"
        headers = self._start_lro(req, on_success=delete, on_failure=failed, async_header=False,
                                  namespace="Microsoft.Resources")
        return Response(202, None, headers)

    @route("GET", "arm", RG + "/resources")
    def arm_list_group_resources(self, req: Request) -> Response:
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

    # ------------------------------------------------------------------ operation polling

    @route("GET", "arm,ml", SUB + "/providers/{ns}/locations/{loc}/{kind:(?:mfeOperationsStatus|operationStatuses|"
                                  "operationsStatus|asyncOperations)}/{op}")
    def arm_operation_status(self, req: Request) -> Response:
        op = self._poll(req.match["op"])
        body: dict[str, Any] = {"id": req.path, "name": op.id, "status": op.status, "startTime": op.started}
        if op.ended:
            body["endTime"] = op.ended
        if op.error:
            body["error"] = op.error
        headers = {"Retry-After": str(self.lro_retry_after)} if op.status == "InProgress" else {}
        return json_response(body, 200, headers)

    @route("GET", "arm,ml", SUB + "/providers/{ns}/locations/{loc}/{kind:(?:mfeOperationResults|operationResults)}"
                                  "/{op}")
    @route("GET", "arm", SUB + "/operationresults/{op}")
    def arm_operation_result(self, req: Request) -> Response:
        op = self._poll(req.match["op"])
        if op.status == "InProgress":
            return Response(202, None, {"Location": req.url, "Retry-After": str(self.lro_retry_after)})
        if op.status == "Failed":
            # a terminal failure: a 4xx, so SDK pipelines do not retry the poll
            raise ApiError(409, op.error["code"], op.error["message"])
        body = op.location_body() if op.location_body else None
        if body is None:
            return Response(204)
        return json_response(body, 200)

    # ------------------------------------------------------------------ storage account extras

    @route("POST", "arm", RG + "/providers/Microsoft.Storage/storageAccounts/{name}/listKeys")
    def arm_storage_list_keys(self, req: Request) -> Response:
        res = self._generic_get(req.match["sub"], req.match["rg"], "Microsoft.Storage", "storageAccounts",
                                req.match["name"])
        account = self.storage_accounts[res["name"].lower()]
        return json_response({"keys": [
            {"keyName": "key1", "value": account["key"], "permissions": "FULL", "creationTime": account["created"]},
            {"keyName": "key2", "value": account["key2"], "permissions": "FULL", "creationTime": account["created"]},
        ]})

    @route("GET,PUT,DELETE", "arm", RG + "/providers/Microsoft.Storage/storageAccounts/{name}/blobServices/default"
                                         "/containers/{container}")
    def arm_storage_container(self, req: Request) -> Response:
        res = self._generic_get(req.match["sub"], req.match["rg"], "Microsoft.Storage", "storageAccounts",
                                req.match["name"])
        account = self.storage_accounts[res["name"].lower()]
        cname = req.match["container"]
        cid = f"{res['id']}/blobServices/default/containers/{cname}"
        if req.method == "PUT":
            created = cname not in account["containers"]
            if created:
                self._create_container(account, cname, {})
            meta = (req.json().get("properties") or {}).get("metadata") or {}
            account["containers"][cname]["metadata"].update(meta)
        container = account["containers"].get(cname)
        if container is None:
            raise ApiError(404, "ContainerNotFound", "The specified container does not exist.")
        if req.method == "DELETE":
            del account["containers"][cname]
            return Response(200)
        body = {"id": cid, "name": cname, "type": "Microsoft.Storage/storageAccounts/blobServices/containers",
                "properties": {"publicAccess": "None", "metadata": container["metadata"],
                               "lastModifiedTime": container["modified"], "leaseState": "Available"}}
        return json_response(body, 201 if req.method == "PUT" and created else 200)

    # ------------------------------------------------------------------ generic resources (catch-all)

    def _generic_get(self, sub: str, rg: str, ns: str, rtype: str, name: str) -> dict:
        self._rg(sub, rg)
        arm_id = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{rtype}/{name}"
        res = self.resources.get(arm_id.lower())
        if res is None:
            raise not_found(f"The Resource '{ns}/{rtype}/{name}' under resource group '{rg}' was not found. For more "
                            "details please go to https://aka.ms/ARMResourceNotFoundFix")
        return res

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
            res = self._create_storage_account(m["sub"], m["rg"], m["name"], body)
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

    # ------------------------------------------------------------------ template deployments

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
                    "timestamp": _now(),
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
                "timestamp": _now(),
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
            return self._create_storage_account(sub, group["name"], res["name"], body)["id"]
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
