"""The Azure ML workspace data plane on ``<region>.api.azureml.ms``: discovery, run history (runs, details,
children, rundata) and dataset URI resolution, as ``jobs.get/list/stream/download`` need them."""

from __future__ import annotations

import re
import uuid
from typing import Any

from ._core import WS
from ._http import Request, Response, json_response, route
from ._ml_jobs import Job

HISTORY = "/history/v1.0" + WS
DATA = "/data/v1.0" + WS


class MlDataPlaneMixin:
    """Run history shows jobs as runs; GETs of a run move its job along, like ARM GETs."""

    # ------------------------------------------------------------------ discovery

    @route("GET", "ml", "/discovery")
    def dp_discovery(self, req: Request) -> Response:
        region = req.host.split(".")[0]
        api = f"https://{region}.api.azureml.ms"
        return json_response({
            "api": api, "catalog": "https://catalog.cortanaanalytics.com",
            "experimentation": api, "gallery": "https://gallery.cortanaintelligence.com/project",
            "history": api, "hyperdrive": api, "labeling": api, "modelmanagement": api, "pipelines": api,
            "studiouiservice": "https://ml.azure.com",
        })

    # ------------------------------------------------------------------ run history

    def _run_json(self, ws, job: Job) -> dict:
        root = self._root(job)
        run: dict[str, Any] = {
            "runId": job.name, "runUuid": str(uuid.uuid5(uuid.NAMESPACE_URL, job.name)),
            "parentRunId": job.parent, "rootRunId": root.name,
            "experimentId": str(uuid.uuid5(uuid.NAMESPACE_URL, ws.id + job.experiment)),
            "status": job.status, "createdUtc": job.created, "startTimeUtc": job.started, "endTimeUtc": job.ended,
            "createdBy": {"userObjectId": job.created_by.get("oid"), "userTenantId": job.created_by.get("tid"),
                          "userName": job.created_by.get("appid") or "fake-user"},
            "displayName": job.display_name, "name": None, "description": None,
            "runType": "azureml.StepRun" if job.parent else "azureml.PipelineRun",
            "tags": dict(job.tags), "properties": dict(job.properties), "hidden": False,
            "target": None, "inputs": {}, "outputs": {},
        }
        if job.kind == "batch-child":
            dep = ws.deployments.get((job.endpoint or "").lower(), {}).get((job.deployment or "").lower()) or {}
            compute = ((dep.get("properties") or {}).get("compute") or "").rstrip("/").split("/")[-1] or None
            run["target"] = compute
            run["compute"] = {"target": compute, "targetType": "AmlCompute"} if compute else None
            run["outputs"] = {"score": {"assetId": self._score_output_asset(ws, job), "type": "uri_folder"}}
        if job.error:
            run["error"] = {"error": {"code": job.error["code"], "message": job.error["message"]}}
        return run

    def _score_output_asset(self, ws, job: Job) -> str:
        return f"azureml://locations/{ws.location}/workspaces/{ws.workspace_id}/data/" \
               f"azureml_{job.name}_output_data_score/versions/1"

    @route("GET", "ml", HISTORY + "/runs/{run}")
    @route("GET", "ml", HISTORY + "/experiments/{exp}/runs/{run}")
    def dp_get_run(self, req: Request) -> Response:
        ws = self._ws(req)
        job = self._job(ws, req.match["run"])
        self._observe(job)
        return json_response(self._run_json(ws, job))

    @route("GET", "ml", HISTORY + "/runs/{run}/details")
    @route("GET", "ml", HISTORY + "/experiments/{exp}/runs/{run}/details")
    @route("GET", "ml", HISTORY + "/experimentids/{exp}/runs/{run}/details")
    def dp_get_run_details(self, req: Request) -> Response:
        ws = self._ws(req)
        job = self._job(ws, req.match["run"])
        self._observe(job)
        run = self._run_json(ws, job)
        details = {k: run.get(k) for k in ("runId", "runUuid", "target", "status", "parentRunId", "startTimeUtc",
                                          "endTimeUtc", "error", "tags", "properties", "rootRunId", "inputs",
                                          "outputs", "createdBy", "compute")}
        details["createdTimeUtc"] = run["createdUtc"]
        details["logFiles"] = {}
        details["warnings"] = []
        return json_response(details)

    @route("GET", "ml", HISTORY + "/runs/{run}/children")
    @route("GET", "ml", HISTORY + "/experiments/{exp}/runs/{run}/children")
    @route("GET", "ml", HISTORY + "/experimentids/{exp}/runs/{run}/children")
    def dp_run_children(self, req: Request) -> Response:
        ws = self._ws(req)
        job = self._job(ws, req.match["run"])
        kids = [self._run_json(ws, ws.jobs[c.lower()]) for c in job.children]
        return json_response({"value": kids, "continuationToken": None, "nextLink": None})

    @route("POST", "ml", HISTORY + "/rundata")
    def dp_run_data(self, req: Request) -> Response:
        ws = self._ws(req)
        body = req.json()
        job = self._job(ws, body.get("runId") or "")
        return json_response({"runMetadata": self._run_json(ws, job), "runDefinition": {},
                              "jobSpecification": {}})

    @route("POST", "ml", HISTORY + "/batchrundata")
    def dp_batch_run_data(self, req: Request) -> Response:
        ws = self._ws(req)
        ids = req.json().get("runIds") or []
        return json_response({"successfulResults": {i: {"runMetadata": self._run_json(ws, self._job(ws, i))}
                                                    for i in ids if i.lower() in ws.jobs},
                              "failedResults": {i: {"error": {"code": "NotFound"}} for i in ids
                                                if i.lower() not in ws.jobs}})

    # ------------------------------------------------------------------ datasets

    @route("POST", "ml", DATA + "/dataversion/batchGetResolvedUris")
    def dp_resolve_uris(self, req: Request) -> Response:
        ws = self._ws(req)
        out = {}
        for asset_id in req.json().get("values") or []:
            m = re.search(r"/data/azureml_(.+)_output_data_(\w+)/versions/", asset_id)
            if not m:
                continue
            job = ws.jobs.get(m.group(1).lower())
            if job is None or not job.output_uri:
                continue
            uri = job.output_uri
            md = re.match(r"^azureml://datastores/(.+)$", uri)
            if md:
                uri = f"azureml://subscriptions/{ws.sub}/resourcegroups/{ws.rg}/workspaces/{ws.name}/datastores/" \
                      f"{md.group(1)}"
            out[asset_id] = {"uri": uri, "type": "UriFolder"}
        return json_response({"values": out})
