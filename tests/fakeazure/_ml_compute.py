"""Azure ML compute clusters (AmlCompute), VM sizes and vCPU quota/usages per location."""

from __future__ import annotations

import copy
import re
import uuid

from . import _catalog
from ._core import MLP, SUB, WS, now_iso
from ._http import ApiError, Request, Response, bad_request, json_response, not_found, route
from ._ml_workspaces import WorkspaceState

COMPUTE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,23}$")


class ComputeMixin:
    """Computes: VM size and priority cannot change in place; min nodes are checked against quota."""

    # ------------------------------------------------------------------ quota, VM sizes

    def _limit(self, location: str, family: str) -> int:
        if (location, family) in self.quota:
            return self.quota[(location, family)]
        if (None, family) in self.quota:
            return self.quota[(None, family)]
        return _catalog.DEFAULT_QUOTA.get(family, _catalog.DEFAULT_TOTALS.get(family, 0))

    def _usage(self, sub: str, location: str) -> dict[str, int]:
        used: dict[str, int] = {}
        for ws in self.workspaces.values():
            if ws.sub.lower() != sub.lower() or ws.location != location:
                continue
            for c in ws.computes.values():
                inner = c["properties"].get("properties") or {}
                size = _catalog.vm_size(inner.get("vmSize", ""))
                if size is None:
                    continue
                nodes = inner.get("currentNodeCount") or 0
                cores = size[2] * nodes
                if (inner.get("vmPriority") or "Dedicated").lower() == "lowpriority":
                    used[_catalog.TOTAL_LOW_PRIORITY] = used.get(_catalog.TOTAL_LOW_PRIORITY, 0) + cores
                else:
                    used[size[1]] = used.get(size[1], 0) + cores
                    used[_catalog.TOTAL_DEDICATED] = used.get(_catalog.TOTAL_DEDICATED, 0) + cores
        return used

    def _check_location(self, loc: str) -> str:
        loc = _catalog.normalize_location(loc)
        if loc not in self.locations:
            raise ApiError(400, "UnsupportedLocation", f"The location '{loc}' is not supported.")
        return loc

    @route("GET", "arm", SUB + MLP + "/locations/{loc}/vmSizes")
    def ml_vm_sizes(self, req: Request) -> Response:
        self._subscription(req.match["sub"])
        self._check_location(req.match["loc"])
        return json_response({"value": [{
            "name": name, "family": family, "vCPUs": cpus, "gpus": gpus, "osVhdSizeMB": 1047552,
            "maxResourceVolumeMB": int(memory * 4096), "memoryGB": memory, "lowPriorityCapable": low,
            "premiumIO": True, "supportedComputeTypes": ["ComputeInstance", "AmlCompute"],
        } for name, family, cpus, memory, gpus, low in _catalog.VM_SIZES]})

    @route("GET", "arm", SUB + MLP + "/locations/{loc}/usages")
    def ml_usages(self, req: Request) -> Response:
        sub = req.match["sub"]
        self._subscription(sub)
        loc = self._check_location(req.match["loc"])
        used = self._usage(sub, loc)
        values = []
        names = list(_catalog.FAMILY_NAMES) + [_catalog.TOTAL_DEDICATED, _catalog.TOTAL_LOW_PRIORITY]
        for fam in names:
            localized = {
                _catalog.TOTAL_DEDICATED: "Total Cluster Dedicated Regional vCPUs",
                _catalog.TOTAL_LOW_PRIORITY: "Total Cluster LowPriority Regional vCPUs",
            }.get(fam, f"{_catalog.FAMILY_NAMES.get(fam, fam)} Cluster Dedicated vCPUs")
            values.append({
                "id": f"/subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}/usages/{fam}",
                "amlWorkspaceLocation": loc,
                "type": "Microsoft.MachineLearningServices/totalCores/usages",
                "unit": "Count",
                "currentValue": used.get(fam, 0),
                "limit": self._limit(loc, fam),
                "name": {"value": fam, "localizedValue": localized},
            })
        return json_response({"value": values})

    # ------------------------------------------------------------------ computes

    def _compute(self, ws: WorkspaceState, name: str) -> dict:
        c = ws.computes.get(name.lower())
        if c is None:
            raise not_found(f"Compute '{name}' was not found in workspace '{ws.name}'.",
                            code="ResourceNotFound")
        return c

    @route("GET", "arm", WS + "/computes")
    def ml_list_computes(self, req: Request) -> Response:
        ws = self._ws(req)
        return json_response({"value": list(ws.computes.values())})

    @route("GET", "arm", WS + "/computes/{name}")
    def ml_get_compute(self, req: Request) -> Response:
        return json_response(self._compute(self._ws(req), req.match["name"]))

    def _validate_cluster(self, ws: WorkspaceState, name: str, inner: dict, current: dict | None) -> dict:
        size = _catalog.vm_size(inner.get("vmSize") or "Standard_DS3_v2")
        if size is None:
            raise bad_request(f"The specified VM size '{inner.get('vmSize')}' is not available in location "
                              f"'{ws.location}'. Use list_sizes to see the sizes offered.", code="UserError")
        scale = inner.get("scaleSettings") or {}
        lo, hi = int(scale.get("minNodeCount") or 0), int(scale.get("maxNodeCount", 1) if scale else 1)
        if lo < 0 or hi < 1 or lo > hi:
            raise bad_request(f"Invalid scale settings: minNodeCount {lo}, maxNodeCount {hi} (need 0 <= min <= max, "
                              "max >= 1).", code="UserError")
        priority = inner.get("vmPriority") or "Dedicated"
        if current is not None:
            cur = current["properties"]["properties"]
            if cur["vmSize"].lower() != size[0].lower():
                raise ApiError(409, "Conflict",
                               f"Compute '{name}' already exists with VM size '{cur['vmSize']}'; the VM size of an "
                               "AmlCompute cluster cannot be changed in place. Delete and re-create it.")
            if (cur.get("vmPriority") or "Dedicated").lower() != priority.lower():
                raise ApiError(409, "Conflict",
                               f"Compute '{name}' already exists with VM priority '{cur.get('vmPriority')}'; "
                               "it cannot be changed in place.")
        if priority.lower() != "lowpriority" and lo:
            used = self._usage(ws.sub, ws.location)
            already = (current["properties"]["properties"].get("currentNodeCount") or 0) * size[2] if current else 0
            need = used.get(size[1], 0) - already + lo * size[2]
            limit = self._limit(ws.location, size[1])
            if need > limit:
                raise bad_request(f"Operation could not be completed as it results in exceeding approved "
                                  f"{_catalog.FAMILY_NAMES.get(size[1], size[1])} Cores quota. Location: "
                                  f"{ws.location}, Current Limit: {limit}, Current Usage: {used.get(size[1], 0)}, "
                                  f"Additional Required: {lo * size[2]}.", code="QuotaExceeded")
        return {"size": size, "min": lo, "max": hi, "priority": priority,
                "idle": scale.get("nodeIdleTimeBeforeScaleDown") or "PT120S"}

    @route("PUT", "arm", WS + "/computes/{name}")
    def ml_put_compute(self, req: Request) -> Response:
        ws = self._ws(req)
        name = req.match["name"]
        if not COMPUTE_NAME_RE.match(name):
            raise bad_request(f"Compute name '{name}' is invalid. It can include letters, digits and dashes. It must "
                              "start with a letter, end with a letter or digit, and be between 3 and 24 characters "
                              "long.", code="ValidationError")
        body = req.json()
        props = body.get("properties") or {}
        ctype = props.get("computeType") or "AmlCompute"
        current = ws.computes.get(name.lower())
        if current is not None and current["properties"]["computeType"] != ctype:
            raise ApiError(409, "Conflict", f"Compute '{name}' already exists with type "
                                            f"{current['properties']['computeType']}.")
        inner = copy.deepcopy(props.get("properties") or {})
        now = now_iso()
        out_props = {k: v for k, v in props.items() if k != "properties"}
        out_props.update({"computeType": ctype, "computeLocation": _catalog.normalize_location(
            body.get("location") or ws.location), "isAttachedCompute": False, "disableLocalAuth": bool(
            props.get("disableLocalAuth", True)), "provisioningErrors": None, "resourceId": props.get("resourceId"),
            "createdOn": current["properties"]["createdOn"] if current else now, "modifiedOn": now})
        if ctype == "AmlCompute":
            v = self._validate_cluster(ws, name, inner, current)
            inner.update({
                "vmSize": inner.get("vmSize") or v["size"][0],
                "vmPriority": v["priority"],
                "scaleSettings": {"maxNodeCount": v["max"], "minNodeCount": v["min"],
                                  "nodeIdleTimeBeforeScaleDown": v["idle"]},
                "osType": inner.get("osType") or "Linux",
                "remoteLoginPortPublicAccess": inner.get("remoteLoginPortPublicAccess") or "NotSpecified",
                "enableNodePublicIp": inner.get("enableNodePublicIp", True),
                "isolatedNetwork": inner.get("isolatedNetwork", False),
                "allocationState": "Steady",
                "allocationStateTransitionTime": now,
                "currentNodeCount": v["min"],
                "targetNodeCount": v["min"],
                "nodeStateCounts": {"idleNodeCount": v["min"], "runningNodeCount": 0, "preparingNodeCount": 0,
                                    "unusableNodeCount": 0, "leavingNodeCount": 0, "preemptedNodeCount": 0},
                "errors": None,
            })
        out_props["properties"] = inner
        out_props["provisioningState"] = "Creating" if current is None else "Updating"
        compute = {
            "id": ws.child_id("computes", current["name"] if current else name),
            "name": current["name"] if current else name,
            "type": "Microsoft.MachineLearningServices/workspaces/computes",
            "location": out_props["computeLocation"],
            "tags": body.get("tags") if body.get("tags") is not None else (current or {}).get("tags") or {},
            "properties": out_props,
            "systemData": self._system_data(req, (current or {}).get("systemData")),
        }
        if body.get("identity"):
            ident = copy.deepcopy(body["identity"])
            if "systemassigned" in (ident.get("type") or "").lower():  # kept while the cluster keeps it
                had = ((current or {}).get("identity") or {}).get("principalId")
                ident.setdefault("principalId", had or str(uuid.uuid4()))
                ident.setdefault("tenantId", self._subscription(ws.sub)["tenant"])
            compute["identity"] = ident
        if body.get("sku"):
            compute["sku"] = body["sku"]
        ws.computes[name.lower()] = compute

        def failed(error):
            compute["properties"]["provisioningState"] = "Failed"
            compute["properties"]["provisioningErrors"] = [{"error": error}]

        return self._accepted_put(req, ws, compute, current, failed)

    @route("PATCH", "arm", WS + "/computes/{name}")
    def ml_patch_compute(self, req: Request) -> Response:
        ws = self._ws(req)
        compute = self._compute(ws, req.match["name"])
        body = req.json()
        inner_patch = ((body.get("properties") or {}).get("properties") or {})
        inner = compute["properties"].get("properties") or {}
        if "scaleSettings" in inner_patch and compute["properties"]["computeType"] == "AmlCompute":
            merged = {**inner, "scaleSettings": {**inner.get("scaleSettings", {}), **inner_patch["scaleSettings"]}}
            v = self._validate_cluster(ws, compute["name"], merged, compute)
            inner["scaleSettings"] = {"maxNodeCount": v["max"], "minNodeCount": v["min"],
                                      "nodeIdleTimeBeforeScaleDown": v["idle"]}
            inner["currentNodeCount"] = inner["targetNodeCount"] = v["min"]
        if body.get("tags") is not None:
            compute["tags"] = body["tags"]
        if body.get("identity"):
            compute["identity"] = body["identity"]
        compute["properties"]["modifiedOn"] = now_iso()
        compute["systemData"] = self._system_data(req, compute.get("systemData"))
        headers = self._start_lro(req, location=ws.location)
        return json_response(compute, 202, headers)

    @route("DELETE", "arm", WS + "/computes/{name}")
    def ml_delete_compute(self, req: Request) -> Response:
        ws = self._ws(req)
        compute = ws.computes.get(req.match["name"].lower())
        if compute is None:
            return Response(204)
        compute["properties"]["provisioningState"] = "Deleting"

        def done():
            ws.computes.pop(req.match["name"].lower(), None)

        def failed(error):
            compute["properties"]["provisioningState"] = "Failed"

        headers = self._start_lro(req, on_success=done, on_failure=failed, location=ws.location,
                                  location_header=True)
        return Response(202, None, headers)

    @route("POST", "arm", WS + "/computes/{name}/listNodes")
    def ml_compute_nodes(self, req: Request) -> Response:
        self._compute(self._ws(req), req.match["name"])
        return json_response({"nodes": [], "nextLink": None})

    @route("POST", "arm", WS + "/computes/{name}/listKeys")
    def ml_compute_keys(self, req: Request) -> Response:
        self._compute(self._ws(req), req.match["name"])
        return json_response({"computeType": "AmlCompute"})
