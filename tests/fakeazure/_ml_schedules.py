"""Azure ML schedules: GET/list (listViewType)/PUT (LRO; Recurrence or Cron)/DELETE. Schedules fire only when a
test calls ``fire_schedule``: the fake then starts the schedule's createJob as Azure does at an occurrence."""

from __future__ import annotations

import copy
import re
import time
import uuid

from ._core import WS, now_iso
from ._http import Request, Response, bad_request, json_response, not_found, route
from ._ml_jobs import Job

_PARENT = re.compile(r"^\$\{\{parent\.(inputs|outputs)\.(\w+)\}\}$")
_MODEL_INPUTS = ("custom_model", "mlflow_model", "triton_model")
PRS_DEFAULT_FILE = "parallel_run_step.txt"  # what a parallel step's append_row file is called unless named


class SchedulesMixin:
    """``WorkspaceState.schedules``."""

    # ------------------------------------------------------------------ control API

    def fire_schedule(self, name: str) -> str:
        """Start the job of enabled schedule ``name`` as Azure does at an occurrence; returns the job's name.

        The job is the schedule's createJob with ``${{name}}`` in its output paths resolved to the job's name. A
        pipeline whose step is a parallel step becomes a batch job (parent and scoring child) that reads the bound
        input data, scores it with ``scorer`` given the step's settings in the batch deployment's shape, and writes
        the append_row file (``--append_row_file_name``) into the bound output folder."""
        with self._lock:
            found = [(ws, s) for ws in self.workspaces.values() for key, s in ws.schedules.items()
                     if key == name.lower()]
            if not found:
                raise KeyError(f"no schedule {name!r}")
            ws, sched = found[0]
            props = sched["properties"]
            if not props.get("isEnabled", True) or props.get("provisioningState") != "Succeeded":
                raise ValueError(f"schedule {name!r} is disabled or not provisioned: Azure would not fire it")
            job_name = f"{sched['name']}-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
            definition = copy.deepcopy(props["action"]["jobDefinition"])
            for out in (definition.get("outputs") or {}).values():
                if isinstance(out, dict) and out.get("uri"):
                    out["uri"] = out["uri"].replace("${{name}}", job_name)
            creator = {"appid": sched["systemData"].get("createdBy", ""), "oid": "", "tid": self.default_tenant}
            parent = Job(name=job_name, ws=ws, kind=definition.get("jobType") or "Pipeline",
                         status=list(self.job_progression)[0], created=now_iso(),
                         experiment=definition.get("experimentName") or "Default",
                         display_name=definition.get("displayName") or job_name, created_by=creator,
                         tags=dict(definition.get("tags") or {}), properties=dict(definition.get("properties") or {}),
                         definition=definition)
            ws.jobs[job_name.lower()] = parent
            step = [(n, j) for n, j in (definition.get("jobs") or {}).items() if j.get("type") == "parallel"]
            if step:
                self._batch_from_parallel(parent, *step[0])
            return job_name

    def _batch_from_parallel(self, parent: Job, node_name: str, node: dict) -> None:
        """A scheduled pipeline's parallel step, run like a batch deployment's scoring step."""
        definition = parent.definition or {}

        def bound(value: dict | None) -> str | None:
            """A step's input or output: its own uri, or the pipeline's that it binds (${{parent.inputs.x}})."""
            value = value or {}
            m = _PARENT.match(str(value.get("value") or ""))
            if m:
                return ((definition.get(m.group(1)) or {}).get(m.group(2)) or {}).get("uri")
            return value.get("uri")

        task = node.get("task") or {}
        data = re.sub(r"^\$\{\{inputs\.(\w+)\}\}$", r"\1", node.get("input_data") or "")
        node_inputs = node.get("inputs") or {}
        models = [bound(v) for k, v in node_inputs.items()
                  if (definition.get("inputs") or {}).get(k, {}).get("jobInputType") in _MODEL_INPUTS]
        appending = bool(task.get("append_row_to"))
        named = re.search(r"--append_row_file_name\s+(\S+)", task.get("program_arguments") or "")
        retry = node.get("retry_settings") or {}
        parent.kind = "batch"
        parent.inputs = {data: bound(node_inputs.get(data)) or ""}
        parent.output_uri = bound(next(iter((node.get("outputs") or {}).values()), None))
        parent.output_file = named.group(1) if named else PRS_DEFAULT_FILE
        parent.scoring = {"name": node_name, "properties": {
            "codeConfiguration": {"codeId": str(task.get("code") or "").removeprefix("azureml:"),
                                  "scoringScript": task.get("entry_script")},
            "environmentId": str(task.get("environment") or "").removeprefix("azureml:"),
            "model": {"referenceType": "Id", "assetId": models[0]} if models else None,
            "compute": node.get("compute") or definition.get("computeId"),
            "resources": {"instanceCount": (node.get("resources") or {}).get("instance_count", 1)},
            "miniBatchSize": int(node.get("mini_batch_size") or 10),
            "maxConcurrencyPerInstance": node.get("max_concurrency_per_instance"),
            "errorThreshold": node.get("error_threshold"), "loggingLevel": node.get("logging_level"),
            "outputAction": "AppendRow" if appending else "SummaryOnly",
            "outputFileName": parent.output_file if appending else None,
            "retrySettings": {"maxRetries": retry.get("max_retries"), "timeout": f"PT{retry.get('timeout')}S"},
            "environmentVariables": dict(node.get("environment_variables") or {}),
        }}
        child = Job(name=str(uuid.uuid4()), ws=parent.ws, kind="batch-child", status=parent.status,
                    created=parent.created, experiment=parent.experiment,
                    display_name=node.get("display_name") or node_name, created_by=parent.created_by,
                    parent=parent.name, inputs=parent.inputs, output_uri=parent.output_uri,
                    output_file=parent.output_file, tags={"azureml.nodeid": node_name},
                    properties={"azureml.runsource": "azureml.StepRun"}, scoring=parent.scoring)
        parent.children.append(child.name)
        parent.ws.jobs[child.name.lower()] = child

    @route("GET", "arm", WS + "/schedules")
    def ml_list_schedules(self, req: Request) -> Response:
        ws = self._ws(req)
        items = list(ws.schedules.values())
        view = (req.query.get("listviewtype") or "EnabledOnly").lower()
        if view == "enabledonly":
            items = [s for s in items if s["properties"].get("isEnabled", True)]
        elif view == "disabledonly":
            items = [s for s in items if not s["properties"].get("isEnabled", True)]
        return json_response({"value": items, "nextLink": None})

    @route("GET", "arm", WS + "/schedules/{name}")
    def ml_get_schedule(self, req: Request) -> Response:
        ws = self._ws(req)
        s = ws.schedules.get(req.match["name"].lower())
        if s is None:
            raise not_found(f"Schedule '{req.match['name']}' was not found.", code="UserError")
        return json_response(s)

    @route("PUT", "arm", WS + "/schedules/{name}")
    def ml_put_schedule(self, req: Request) -> Response:
        ws = self._ws(req)
        name = req.match["name"]
        body = req.json()
        props = copy.deepcopy(body.get("properties") or {})
        trigger = props.get("trigger") or {}
        ttype = trigger.get("triggerType")
        if ttype not in ("Recurrence", "Cron"):
            raise bad_request(f"Unsupported triggerType '{ttype}'.", code="UserError")
        if ttype == "Recurrence":
            freq = trigger.get("frequency")
            if (freq or "").lower() not in ("minute", "hour", "day", "week", "month"):
                raise bad_request(f"Invalid recurrence frequency '{freq}'.", code="UserError")
            if int(trigger.get("interval") or 0) < 1:
                raise bad_request("Recurrence interval must be a positive integer.", code="UserError")
        action = props.get("action") or {}
        if not action.get("actionType"):
            raise bad_request("Schedule action is required.", code="UserError")
        if action["actionType"] == "CreateJob" and not (action.get("jobDefinition") or {}).get("jobType"):
            raise bad_request("The CreateJob action needs a jobDefinition with a jobType.", code="UserError")
        current = ws.schedules.get(name.lower())
        props.setdefault("isEnabled", True)
        props["provisioningState"] = "Creating" if current is None else "Updating"
        sched = {"id": ws.child_id("schedules", name), "name": name,
                 "type": "Microsoft.MachineLearningServices/workspaces/schedules", "properties": props,
                 "systemData": self._system_data(req, (current or {}).get("systemData"))}
        ws.schedules[name.lower()] = sched

        def ok():
            sched["properties"]["provisioningState"] = "Succeeded"

        def failed(_e):
            sched["properties"]["provisioningState"] = "Failed"

        headers = self._start_lro(req, on_success=ok, on_failure=failed, location=ws.location)
        snapshot = copy.deepcopy(sched)
        return json_response(snapshot, 200 if current else 201, headers)

    @route("DELETE", "arm", WS + "/schedules/{name}")
    def ml_delete_schedule(self, req: Request) -> Response:
        ws = self._ws(req)
        name = req.match["name"].lower()
        if name not in ws.schedules:
            return Response(204)

        def done():
            ws.schedules.pop(name, None)

        headers = self._start_lro(req, on_success=done, location=ws.location, location_header=True)
        return Response(202, None, headers)
