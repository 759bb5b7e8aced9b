"""Azure ML jobs: the Job record, how jobs progress (one step per GET), the control API of tests, and jobs on
ARM (list/get/PUT/cancel/DELETE)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ._core import WS, now_iso
from ._http import Request, Response, bad_request, json_response, not_found, route

TERMINAL = ("Completed", "Failed", "Canceled", "NotResponding", "Paused")


@dataclass
class Job:
    """A job the fake runs. Batch invocations, and the pipeline jobs a schedule starts (``fire_schedule``), make a
    parent (pipeline) job with one child (the scoring step)."""

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
    definition: dict | None = None  # ARM properties of a submitted job (or of the job a schedule started)
    scoring: dict | None = None  # deployment-shaped settings a scheduled run scores with (None: its deployment's)
    error: dict | None = None
    scored: bool = False


class JobFailure(Exception):
    """Raised while scoring: the batch job ends Failed with this message."""


class JobsMixin:
    """``WorkspaceState.jobs`` (lower-cased name -> Job); scoring itself is in _ml_scoring."""

    # ------------------------------------------------------------------ control API

    #: statuses a batch job walks through, one step per GET of the job (ARM or run history)
    job_progression: tuple[str, ...] = ("Queued", "Running", "Completed")

    #: when False, jobs stay where they are until set_job_status/advance_job
    job_auto_advance: bool = True

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
            job.started = now_iso()
        if status == "Completed" and job.kind == "batch" and not job.scored:
            job.scored = True
            try:
                self._score(job)
            except JobFailure as exc:
                status, error = "Failed", str(exc)
        job.status = status
        if status == "Running" and job.kind == "batch":
            self._publish_progress(job, None, finished=False)
        if status in TERMINAL:
            job.ended = job.ended or now_iso()
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

    # ------------------------------------------------------------------ jobs on ARM

    def _job(self, ws, name: str) -> Job:
        job = ws.jobs.get(name.lower())
        if job is None:
            raise not_found(f"The specified resource was not found: job '{name}'.", code="UserError")
        return job

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
        if job.kind == "batch" and job.definition is None:  # an invocation (a scheduled run has its definition)
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

    @staticmethod
    def _studio_url(ws, job: Job) -> str:
        return f"https://ml.azure.com/runs/{job.name}?wsid={ws.id}&tid={job.created_by.get('tid', '')}"

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
        job = Job(name=name, ws=ws, kind=props["jobType"], status=list(self.job_progression)[0], created=now_iso(),
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
