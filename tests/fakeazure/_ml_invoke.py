"""Batch endpoint invocation: POST to a scoring URI (``<endpoint>.<region>.inference.ml.azure.com/jobs``)
makes a parent job with one child (the scoring step); and the batch job listings of the MFE data plane."""

from __future__ import annotations

import uuid

from ._core import WS, now_iso
from ._http import ApiError, Request, Response, bad_request, json_response, not_found, route
from ._ml_jobs import Job


class BatchInvokeMixin:
    """Invocations and batch job listings."""

    # ------------------------------------------------------------------ invoke (scoring URI)

    def _scoring_endpoint(self, req: Request):
        """-> (workspace, endpoint name) of a scoring URI's host, once the caller's token is accepted."""
        parts = req.host.split(".")
        if len(parts) < 5 or parts[2] != "inference":
            raise not_found(f"No batch endpoint at {req.host}.", code="NotFound")
        ep_name, region = parts[0], parts[1]
        found = None
        for ws in self.workspaces.values():
            if ws.location == region and ep_name in ws.endpoints:
                found = ws
                break
        if found is None:
            raise ApiError(404, "NotFound", f"Batch endpoint '{ep_name}' was not found in region '{region}'.")
        claims = self._bearer_claims(req)
        if claims is None:
            raise ApiError(401, "Unauthorized", "Missing bearer token.")
        if (claims.get("aud") or "").rstrip("/") not in ("https://ml.azure.com", "https://management.azure.com",
                                                          "https://management.core.windows.net"):
            raise ApiError(401, "Unauthorized", f"Token audience '{claims.get('aud')}' is not accepted by the "
                                                "batch endpoint; request a token for https://ml.azure.com.")
        return found, ep_name

    @route("GET", "ml", "/jobs/{name}")
    def dp_invoked_job(self, req: Request) -> Response:
        """A batch job at `<scoring URI>/<name>`, where Azure's REST samples poll properties.status."""
        ws, ep_name = self._scoring_endpoint(req)
        job = ws.jobs.get(req.match["name"].lower())
        if job is None or job.kind != "batch" or (job.endpoint or "").lower() != ep_name.lower():
            raise not_found(f"The specified resource was not found: job '{req.match['name']}'.", code="UserError")
        self._observe(job)
        return json_response(self._batch_job_json(ws, job))

    @route("POST", "ml", "/jobs")
    def dp_invoke(self, req: Request) -> Response:
        ws, ep_name = self._scoring_endpoint(req)
        endpoint = ws.endpoints[ep_name]
        if endpoint["properties"].get("provisioningState") != "Succeeded":
            raise bad_request(f"Endpoint '{endpoint['name']}' is not ready "
                              f"(provisioningState {endpoint['properties'].get('provisioningState')}).")
        deployments = ws.deployments.get(ep_name, {})
        wanted = req.headers.get("azureml-model-deployment") or \
            (endpoint["properties"].get("defaults") or {}).get("deploymentName")
        if not wanted:
            raise bad_request("No valid deployments to route to. Please check that the endpoint has at least one "
                              "deployment with positive weight values or use a deployment specific header to "
                              "route.", code="UserError")
        dep = deployments.get(wanted.lower())
        if dep is None:
            raise bad_request(f"Deployment '{wanted}' was not found under endpoint '{endpoint['name']}'.",
                              code="UserError")
        body = req.json()
        props = body.get("properties") or {}
        inputs = self._invoke_inputs(ws, props)
        if not inputs:
            raise bad_request("The invocation has no input data.", code="UserError")
        repeat = req.headers.get("repeatability-request-id")
        if repeat:
            for j in ws.jobs.values():
                if j.properties.get("fakeazure.repeatabilityRequestId") == repeat:
                    return json_response(self._batch_job_json(ws, j), 200)
        name = self._job_name(props)
        if name.lower() in ws.jobs:
            raise ApiError(409, "UserError", f"A job with name '{name}' already exists.")
        dprops = dep["properties"]
        child_name = str(uuid.uuid4())
        out_uri, out_file = self._invoke_output(props)
        out_uri = out_uri or f"azureml://datastores/workspaceblobstore/paths/azureml/{child_name}/score/"
        output_file = out_file or props.get("outputFileName") or dprops.get("outputFileName") or "predictions.csv"
        caller = self._caller(req)
        now = now_iso()
        progression = list(self.job_progression)
        parent = Job(name=name, ws=ws, kind="batch", status=progression[0], created=now,
                     experiment=(props.get("properties") or {}).get("experimentName") or endpoint["name"],
                     display_name=name, created_by=caller, endpoint=endpoint["name"], deployment=dep["name"],
                     inputs=inputs, output_uri=out_uri, output_file=output_file,
                     tags={"azureml.batchrun": "true", "azureml.deploymentname": dep["name"],
                           "azureml.endpointname": endpoint["name"], "azureml.jobtype": "azureml.batchjob"},
                     properties={"azureml.batchrun": "true", "azureml.deploymentname": dep["name"],
                                 "azureml.endpointname": endpoint["name"]})
        if repeat:
            parent.properties["fakeazure.repeatabilityRequestId"] = repeat
        child = Job(name=child_name, ws=ws, kind="batch-child", status=parent.status, created=now,
                    experiment=parent.experiment, display_name="batchscoring", created_by=caller, parent=name,
                    endpoint=endpoint["name"], deployment=dep["name"], inputs=inputs, output_uri=out_uri,
                    output_file=output_file, tags={"azureml.nodeid": uuid.uuid4().hex[:8]},
                    properties={"azureml.runsource": "azureml.StepRun"})
        parent.children.append(child_name)
        ws.jobs[name.lower()] = parent
        ws.jobs[child_name.lower()] = child
        return json_response(self._batch_job_json(ws, parent), 200)

    @staticmethod
    def _job_name(props: dict) -> str:
        for k, v in props.items():
            if k.lower() == "name" and v:
                return str(v)
        return f"batchjob-{uuid.uuid4()}"

    def _invoke_inputs(self, ws, props: dict) -> dict[str, str]:
        """Accepts the shapes azure-ai-ml sends: InputData={'UriFolder': {...}} or {'<name>': {...}}."""
        raw = None
        for k, v in props.items():
            if k.lower() in ("inputdata", "input_data", "inputs"):
                raw = v
        if raw is None:
            for k, v in props.items():
                if k.lower() == "dataset" and isinstance(v, dict):
                    raw = {"input_data": v}
        out: dict[str, str] = {}
        for key, val in (raw or {}).items():
            if not isinstance(val, dict):
                continue
            uri = None
            for k, v in val.items():
                if k.lower() in ("uri", "path", "dataseturi", "datapath") and isinstance(v, str):
                    uri = v
                elif k.lower() == "datasetid" and isinstance(v, str):
                    uri = v
            if uri is None:
                nested = {k.lower(): v for k, v in val.items()}
                if isinstance(nested.get("datapath"), dict):
                    dp = nested["datapath"]
                    uri = f"azureml://datastores/{dp.get('datastoreName')}/paths/{dp.get('relativePath')}"
            if uri:
                out["input_data" if key in ("UriFolder", "UriFile") else key] = uri
        return out

    @staticmethod
    def _invoke_output(props: dict) -> tuple[str | None, str | None]:
        """-> (folder URI ending in '/', file name or None) of the requested output location."""
        for k, v in props.items():
            if k.lower() == "outputdataset" and isinstance(v, dict):
                ds = (v.get("datastoreId") or "").rstrip("/").split("/")[-1]
                path = (v.get("path") or "").strip("/")
                if ds:
                    return f"azureml://datastores/{ds}/paths/{path}/", None
            if k.lower() == "outputdata" and isinstance(v, dict):
                for val in v.values():
                    if not isinstance(val, dict):
                        continue
                    low = {kk.lower(): vv for kk, vv in val.items()}
                    uri = low.get("uri")
                    if not uri:
                        continue
                    if (low.get("joboutputtype") or "").lower() == "urifile":
                        folder, _, fname = uri.rpartition("/")
                        return folder + "/", fname
                    return (uri if uri.endswith("/") else uri + "/"), None
        return None, None

    def _batch_job_json(self, ws, job: Job) -> dict:
        return {
            "id": ws.child_id("batchEndpoints", job.endpoint or "", "jobs", job.name),
            "name": job.name,
            "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints/jobs",
            "properties": {
                "status": job.status, "description": None, "properties": dict(job.properties),
                "interactionEndpoints": {"Studio": {"endpoint": self._studio_url(ws, job)}},
                "inputData": {k: {"jobInputType": "UriFolder", "uri": v} for k, v in job.inputs.items()},
                "outputDataset": {"datastoreId": None, "path": job.output_uri}, "outputFileName": job.output_file,
                "errorThreshold": -1, "miniBatchSize": 10, "retrySettings": {"maxRetries": 3, "timeout": "PT30S"},
                "compute": None, "dataset": None, "partitionKeys": None, "provisioningState": "Succeeded",
                "startTime": job.started, "endTime": job.ended,
            },
            "systemData": {"createdAt": job.created, "createdBy": job.created_by["appid"] or "fake-user",
                           "createdByType": "Application"},
        }

    # ------------------------------------------------------------------ batch job listings (MFE data plane)

    @route("GET", "arm,ml", WS + "/batchEndpoints/{ep}/jobs")
    @route("GET", "arm,ml", WS + "/batchEndpoints/{ep}/deployments/{dep}/jobs")
    def dp_list_batch_jobs(self, req: Request) -> Response:
        ws = self._ws(req)
        ep = self._endpoint(ws, req.match["ep"])
        dep = req.match.get("dep")
        jobs = [j for j in ws.jobs.values() if j.kind == "batch" and (j.endpoint or "").lower() == ep["name"].lower()
                and (dep is None or (j.deployment or "").lower() == dep.lower())]
        return json_response({"value": [self._batch_job_json(ws, j) for j in jobs], "nextLink": None})
