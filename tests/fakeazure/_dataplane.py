"""Azure ML data plane and jobs: discovery, batch endpoint invocation (scoring URI), jobs on ARM, run
history, dataset URI resolution, batch job listings, and the fake "scoring" that writes predictions."""

from __future__ import annotations

import copy
import re
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

from ._http import ApiError, Request, Response, bad_request, json_response, not_found, route

SUB = "/subscriptions/{sub}"
RG = SUB + "/resourceGroups/{rg}"
WS = RG + "/providers/Microsoft.MachineLearningServices/workspaces/{ws}"
HISTORY = "/history/v1.0" + WS
DATA = "/data/v1.0" + WS

TERMINAL = ("Completed", "Failed", "Canceled", "NotResponding", "Paused")


def _now() -> str:
    from ._core import now_iso
    return now_iso()


@dataclass
class Job:
    """A job the fake runs. Batch invocations make a parent (pipeline) job with one child (the scoring step)."""

    name: str
    ws: Any  # WorkspaceState
    kind: str  # "batch" (parent), "batch-child", or the jobType of a submitted job ("Pipeline", "Command", ...)
    status: str
    created: str
    experiment: str
    display_name: str
    created_by: dict
    parent: str | None = None
    children: list[str] = field(default_factory=list)
    step: int = 0
    pinned: bool = False
    started: str | None = None
    ended: str | None = None
    tags: dict = field(default_factory=dict)
    properties: dict = field(default_factory=dict)
    endpoint: str | None = None
    deployment: str | None = None
    inputs: dict = field(default_factory=dict)  # name -> uri
    output_uri: str | None = None  # azureml://datastores/<ds>/paths/<path>/ (folder of the "score" output)
    output_file: str = "predictions.csv"
    definition: dict | None = None  # ARM properties of a submitted job
    error: dict | None = None
    scored: bool = False


def default_scorer(files: list[tuple[str, bytes]], deployment: dict) -> bytes:
    """One CSV row per non-empty input line: '<file name>,<line number>,<score>' (score in [0, 1))."""
    rows = []
    for name, data in files:
        base = name.rsplit("/", 1)[-1]
        for i, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
            if line.strip():
                score = (zlib.crc32(line.encode()) % 10000) / 10000
                rows.append(f"{base},{i},{score:.4f}\n")
    return "".join(rows).encode()


class DataPlaneMixin:
    # ------------------------------------------------------------------ control API

    #: statuses a batch job walks through, one step per GET of the job (ARM or run history)
    job_progression: tuple[str, ...] = ("Queued", "Running", "Completed")
    #: when False, jobs stay where they are until set_job_status/advance_job
    job_auto_advance: bool = True
    #: callable(files: list[(relative name, bytes)], deployment JSON) -> bytes written as the output file
    scorer: Callable[[list[tuple[str, bytes]], dict], bytes] = staticmethod(default_scorer)

    def job(self, name: str) -> Job:
        with self._lock:
            for ws in self.workspaces.values():
                if name.lower() in ws.jobs:
                    return ws.jobs[name.lower()]
        raise KeyError(f"no job {name!r}")

    def jobs_all(self) -> list[Job]:
        with self._lock:
            return [j for ws in self.workspaces.values() for j in ws.jobs.values()]

    def set_job_status(self, name: str, status: str, *, error: str | None = None) -> None:
        """Force a job's status (and its children's) and stop its automatic progression."""
        with self._lock:
            job = self.job(name)
            root = self._root(job)
            root.pinned = True
            self._set_status(root, status, error=error)

    def advance_job(self, name: str) -> str:
        """Move a job one step along job_progression (even when pinned); returns the new status."""
        with self._lock:
            root = self._root(self.job(name))
            self._advance(root, force=True)
            return root.status

    # ------------------------------------------------------------------ progression

    def _root(self, job: Job) -> Job:
        while job.parent:
            job = job.ws.jobs[job.parent.lower()]
        return job

    def _set_status(self, job: Job, status: str, *, error: str | None = None) -> None:
        if status in ("Running", "Completed", "Failed", "Canceled") and job.started is None:
            job.started = _now()
        if status == "Completed" and job.kind == "batch" and not job.scored:
            job.scored = True
            try:
                self._score(job)
            except _JobFailure as exc:
                status, error = "Failed", str(exc)
        job.status = status
        if status in TERMINAL:
            job.ended = job.ended or _now()
            if status == "Failed":
                job.error = {"code": "UserError", "message": error or "The job failed."}
        for child in job.children:
            c = job.ws.jobs[child.lower()]
            c.started, c.ended, c.error = job.started, job.ended, job.error
            c.status = status

    def _advance(self, job: Job, force: bool = False) -> None:
        if job.status in TERMINAL or (job.pinned and not force):
            return
        if job.status == "CancelRequested":
            self._set_status(job, "Canceled")
            return
        if not (self.job_auto_advance or force):
            return
        job.step += 1
        progression = list(self.job_progression)
        self._set_status(job, progression[min(job.step, len(progression) - 1)])

    def _observe(self, job: Job) -> None:
        self._advance(self._root(job))

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

    # ------------------------------------------------------------------ invoke (scoring URI)

    @route("POST", "ml", "/jobs")
    def dp_invoke(self, req: Request) -> Response:
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
        ws = found
        claims = self._bearer_claims(req)
        if claims is None:
            raise ApiError(401, "Unauthorized", "Missing bearer token.")
        if (claims.get("aud") or "").rstrip("/") not in ("https://ml.azure.com", "https://management.azure.com",
                                                          "https://management.core.windows.net"):
            raise ApiError(401, "Unauthorized", f"Token audience '{claims.get('aud')}' is not accepted by the "
                                                "batch endpoint; request a token for https://ml.azure.com.")
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
        now = _now()
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

    @staticmethod
    def _studio_url(ws, job: Job) -> str:
        return f"https://ml.azure.com/runs/{job.name}?wsid={ws.id}&tid={job.created_by.get('tid', '')}"

    # ------------------------------------------------------------------ scoring

    def _resolve_data_uri(self, ws, uri: str) -> tuple[dict, str, str]:
        """uri -> (blob account state, container, prefix). Raises _JobFailure when it cannot be read."""
        m = re.match(r"^azureml://(?:subscriptions/[^/]+/resource[gG]roups/[^/]+/(?:providers/"
                     r"Microsoft\.MachineLearningServices/)?workspaces/[^/]+/)?datastores/([^/]+)/paths/(.*)$", uri)
        if m:
            ds = ws.datastores.get(m.group(1).lower())
            if ds is None:
                raise _JobFailure(f"Datastore '{m.group(1)}' does not exist in workspace '{ws.name}'.")
            p = ds["properties"]
            if p.get("datastoreType") != "AzureBlob":
                raise _JobFailure(f"Datastore '{ds['name']}' is {p.get('datastoreType')}; the fake reads AzureBlob "
                                  "datastores only.")
            account = self.storage_accounts.get(p["accountName"].lower())
            if account is None:
                raise _JobFailure(f"Storage account '{p['accountName']}' of datastore '{ds['name']}' is not "
                                  "reachable.")
            if p["containerName"] not in account["containers"]:
                raise _JobFailure(f"Container '{p['containerName']}' of datastore '{ds['name']}' does not exist "
                                  f"in storage account '{p['accountName']}'.")
            return account, p["containerName"], m.group(2)
        m = re.match(r"^(?:https://([a-z0-9]+)\.blob\.core\.windows\.net/([^/]+)/?(.*)|"
                     r"wasbs?://([^@]+)@([a-z0-9]+)\.blob\.core\.windows\.net/?(.*))$", uri)
        if m:
            acc = m.group(1) or m.group(5)
            container = m.group(2) or m.group(4)
            prefix = m.group(3) if m.group(1) else m.group(6)
            account = self.storage_accounts.get(acc)
            if account is None or container not in account["containers"]:
                raise _JobFailure(f"Cannot read {uri}: no such container.")
            return account, container, prefix or ""
        m = re.match(r"^(?:azureml:)?([^:/]+):([^:/]+)$", uri) or re.search(r"/data/([^/]+)/versions/([^/]+)$", uri)
        if m:
            entry = ws.assets.get("data", {}).get(m.group(1).lower())
            version = entry and entry["versions"].get(m.group(2))
            if not version:
                raise _JobFailure(f"Data asset '{m.group(1)}:{m.group(2)}' was not found.")
            return self._resolve_data_uri(ws, version["properties"]["dataUri"])
        raise _JobFailure(f"Unsupported input URI '{uri}'.")

    def _score(self, job: Job) -> None:
        ws = job.ws
        files: list[tuple[str, bytes]] = []
        for uri in job.inputs.values():
            account, container, prefix = self._resolve_data_uri(ws, uri)
            blobs = account["containers"][container]["blobs"]
            folder = prefix if prefix.endswith("/") or not prefix else prefix + "/"
            names = sorted(n for n in blobs if n == prefix or n.startswith(folder))
            files.extend((n[len(folder):] if n.startswith(folder) else n.rsplit("/", 1)[-1],
                          blobs[n]["data"]) for n in names)
        if not files:
            raise _JobFailure(f"No input files were found at {', '.join(job.inputs.values())}. "
                              "Batch jobs need at least one file to score.")
        dep = ws.deployments.get((job.endpoint or "").lower(), {}).get((job.deployment or "").lower()) or {}
        try:
            output = self.scorer(files, dep)
        except Exception as exc:  # noqa: BLE001 - the scorer's failure is the job's failure
            raise _JobFailure(f"run() failed: {type(exc).__name__}: {exc}")
        if isinstance(output, str):
            output = output.encode()
        if (dep.get("properties") or {}).get("outputAction", "AppendRow") == "SummaryOnly":
            return
        account, container, prefix = self._resolve_data_uri(ws, job.output_uri)
        folder = prefix if prefix.endswith("/") or not prefix else prefix + "/"
        name = folder + job.output_file
        blobs = account["containers"][container]["blobs"]
        if name in blobs:
            return  # like Azure: an existing output file is not overwritten
        self._write_blob(account, container, name, output or b"", content_type="text/csv")

    # ------------------------------------------------------------------ jobs on ARM

    def _job(self, ws, name: str) -> Job:
        job = ws.jobs.get(name.lower())
        if job is None:
            raise not_found(f"The specified resource was not found: job '{name}'.", code="UserError")
        return job

    def _score_output_asset(self, ws, job: Job) -> str:
        return f"azureml://locations/{ws.location}/workspaces/{ws.workspace_id}/data/" \
               f"azureml_{job.name}_output_data_score/versions/1"

    def _job_arm_json(self, ws, job: Job) -> dict:
        base = {"id": ws.child_id("jobs", job.name), "name": job.name,
                "type": "Microsoft.MachineLearningServices/workspaces/jobs",
                "systemData": {"createdAt": job.created, "createdBy": job.created_by.get("appid") or "fake-user",
                               "createdByType": "Application"}}
        if job.kind == "batch-child":
            return {**base, "properties": None}  # pipeline child jobs carry no properties on ARM
        services = {"Studio": {"endpoint": self._studio_url(ws, job), "jobServiceType": "Studio"},
                    "Tracking": {"endpoint": ws.json["properties"]["mlFlowTrackingUri"],
                                 "jobServiceType": "Tracking"}}
        if job.kind == "batch":
            ds_out = job.output_uri
            props = {
                "jobType": "Pipeline", "status": job.status, "displayName": job.display_name,
                "experimentName": job.experiment, "description": None, "tags": dict(job.tags),
                "properties": dict(job.properties), "isArchived": False, "computeId": None, "services": services,
                "inputs": {k: {"jobInputType": "uri_folder", "uri": v, "mode": "ReadOnlyMount"}
                           for k, v in job.inputs.items()},
                "outputs": {"score": {"jobOutputType": "uri_folder", "uri": ds_out, "mode": "ReadWriteMount"}},
                "jobs": {}, "settings": {"_source": "BATCH_ENDPOINT"},
            }
        else:
            props = copy.deepcopy(job.definition or {})
            props.update({"status": job.status, "services": services})
        return {**base, "properties": props}

    @route("GET", "arm", WS + "/jobs")
    def dp_list_jobs(self, req: Request) -> Response:
        ws = self._ws(req)
        items = [self._job_arm_json(ws, j) for j in ws.jobs.values() if j.parent is None]
        return json_response({"value": items, "nextLink": None})

    @route("GET", "arm", WS + "/jobs/{name}")
    def dp_get_job(self, req: Request) -> Response:
        ws = self._ws(req)
        job = self._job(ws, req.match["name"])
        self._observe(job)
        return json_response(self._job_arm_json(ws, job))

    @route("PUT", "arm", WS + "/jobs/{name}")
    def dp_put_job(self, req: Request) -> Response:
        ws = self._ws(req)
        name = req.match["name"]
        props = copy.deepcopy(req.json().get("properties") or {})
        current = ws.jobs.get(name.lower())
        if current is not None:
            editable = ("description", "tags", "displayName", "properties", "isArchived")
            for k in editable:
                if k in props and current.definition is not None:
                    current.definition[k] = props[k]
            if current.definition is not None:
                current.tags = current.definition.get("tags") or {}
            return json_response(self._job_arm_json(ws, current), 200)
        if not props.get("jobType"):
            raise bad_request("jobType is required.", code="UserError")
        props.pop("status", None)
        job = Job(name=name, ws=ws, kind=props["jobType"], status=list(self.job_progression)[0], created=_now(),
                  experiment=props.get("experimentName") or "Default",
                  display_name=props.get("displayName") or name, created_by=self._caller(req),
                  tags=props.get("tags") or {}, properties=props.get("properties") or {}, definition=props)
        props.setdefault("experimentName", job.experiment)
        props.setdefault("displayName", job.display_name)
        ws.jobs[name.lower()] = job
        return json_response(self._job_arm_json(ws, job), 201)

    @route("POST", "arm", WS + "/jobs/{name}/cancel")
    def dp_cancel_job(self, req: Request) -> Response:
        ws = self._ws(req)
        job = self._root(self._job(ws, req.match["name"]))
        if job.status in TERMINAL:
            raise bad_request(f"Job '{job.name}' is already in terminal state {job.status} and cannot be canceled.",
                              code="UserError")
        self._set_status(job, "CancelRequested")

        def done():
            if job.status == "CancelRequested":
                self._set_status(job, "Canceled")

        headers = self._start_lro(req, on_success=done, location=ws.location, async_header=False)
        return Response(202, None, headers)

    @route("DELETE", "arm", WS + "/jobs/{name}")
    def dp_delete_job(self, req: Request) -> Response:
        ws = self._ws(req)
        job = ws.jobs.get(req.match["name"].lower())
        if job is None:
            return Response(204)

        def done():
            for c in job.children:
                ws.jobs.pop(c.lower(), None)
            ws.jobs.pop(job.name.lower(), None)

        headers = self._start_lro(req, on_success=done, location=ws.location, location_header=True)
        return Response(202, None, headers)

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


class _JobFailure(Exception):
    pass
