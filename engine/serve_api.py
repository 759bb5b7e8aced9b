"""The batch endpoint's REST API as Azure speaks it, for the local service (`--serve`): reading an
invocation body, and the batch job resource and listing it answers with. No HTTP here.

Azure's shapes (azure-ai-ml's BatchJobSchema and the 2020-09-01-dataplanepreview batch job API):
POST <scoring URI> (`.../jobs`) with {"properties": {"inputData": {"UriFolder": {"jobInputType":
"UriFolder", "uri": "..."}}, "name"?: "..."}} and an optional `azureml-model-deployment` header
makes a job; GET `.../jobs/<name>` is one job; GET `.../jobs` is {"value": [...], "nextLink": null}.
Errors are {"error": {"code", "message"}}. Keys are read case-insensitively, as Azure does.
"""

from __future__ import annotations

import glob
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import paths
from engine.deployment import input_uri, output_uri
from engine.jobinfo import JobInfo
from engine.validation import job_id

DATASTORE_PREFIX = "azureml://datastores/"


class ApiError(Exception):
    """An answer in Azure's error shape."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def user_error(message: str) -> ApiError:
    return ApiError(400, "UserError", message)


@dataclass(frozen=True)
class Invocation:
    input_path: str | None  # a local file or folder; None: the profile's uploaded data (as --submit)
    name: str | None  # the job name the caller chose


def _get(mapping: Any, *names: str) -> Any:
    """A key of a JSON object, matched case-insensitively."""
    if isinstance(mapping, dict):
        wanted = {n.lower() for n in names}
        for key, value in mapping.items():
            if isinstance(key, str) and key.lower() in wanted:
                return value
    return None


def allowed_roots(profile: Any) -> list[Path]:
    """Where an invocation may read local data: the folders the profile's data.files name (never a
    whole file system or home folder: the loader refuses those) and amlbatch's local datastores.
    Nothing else on this machine."""
    roots = [paths.local_cloud_dir()]
    for entry in profile.data.files:
        target = profile.resolve(entry)
        if glob.has_magic(entry):  # the part before the first wildcard
            parts = target.parts
            roots.append(Path(*parts[:next(i for i, part in enumerate(parts) if glob.has_magic(part))]))
        else:
            roots.append(target if target.is_dir() else target.parent)
    return [Path(os.path.realpath(root)) for root in roots]


def _inside(path: Path, root: Path) -> bool:
    return path == root or str(path).startswith(str(root).rstrip(os.sep) + os.sep)


def parse_invocation(profile: Any, body: Any, deployment: str | None, datastore_folder: Path) -> Invocation:
    """What to run for an invocation; `datastore_folder` is where the profile's input datastore keeps
    its blobs on this machine. Raises ApiError with Azure's wording and codes."""
    if deployment and deployment.lower() != profile.endpoint.deployment.lower():
        raise user_error(f"Deployment '{deployment}' was not found under endpoint '{profile.endpoint_name}'.")
    props = _get(body, "properties")
    if not isinstance(props, dict):
        raise user_error("The request body must be a JSON object with \"properties\" (Azure's batch job shape).")
    for name in ("outputData", "outputDataset"):
        if _get(props, name):
            raise user_error(f"properties.{name}: the local service writes each run's results to the profile's "
                             f"output datastore ({output_uri(profile, '<job>')}); leave {name} out locally.")
    wanted_file = _get(props, "outputFileName")
    if wanted_file and wanted_file != profile.endpoint.output_file_name:
        raise user_error(f"properties.outputFileName: the deployment writes '{profile.endpoint.output_file_name}' "
                         "(endpoint.output_file_name in the profile).")
    name = _get(props, "name")
    if name is not None and (not isinstance(name, str) or job_id(name)):
        raise user_error(f"properties.name: {job_id(name) if isinstance(name, str) else 'must be a string'}")
    inputs = _get(props, "inputData", "input_data", "inputs")
    if inputs is None and isinstance(_get(props, "dataset"), dict):
        inputs = {"dataset": _get(props, "dataset")}
    if not isinstance(inputs, dict) or not inputs:
        raise user_error("The invocation has no input data (properties.inputData).")
    if len(inputs) > 1:
        raise user_error(f"properties.inputData: a model batch deployment takes one input; got {len(inputs)}.")
    [value] = inputs.values()
    uri = _get(value, "uri", "path")
    if not isinstance(uri, str) or not uri.strip():
        raise user_error("properties.inputData: the input has no \"uri\".")
    return Invocation(_input_path(profile, uri.strip(), datastore_folder), name)


def _input_path(profile: Any, uri: str, datastore_folder: Path) -> str | None:
    if uri.rstrip("/") == input_uri(profile).rstrip("/"):
        return None  # the profile's uploaded data: the same run as --submit without --input
    if uri.startswith(DATASTORE_PREFIX):
        store, _, rest = uri[len(DATASTORE_PREFIX):].partition("/paths/")
        if store != profile.storage.input_datastore:
            raise user_error(f"inputData uri: datastore '{store}' is not the profile's input datastore "
                             f"'{profile.storage.input_datastore}' (the local service reads only that one).")
        found = Path(os.path.realpath(datastore_folder / rest.strip("/")))
        if not _inside(found, Path(os.path.realpath(datastore_folder))) or not found.exists():
            raise user_error(f"inputData uri: no such file or folder in datastore '{store}': {rest}")
        return str(found)
    local = uri[len("file://"):] if uri.startswith("file://") else uri
    if "://" in local or local.startswith("azureml:"):
        raise user_error(f"inputData uri: the local service reads the profile's input datastore "
                         f"({input_uri(profile)}, or a path in it) or a local path; it does not fetch {uri}")
    path = Path(local).expanduser()
    if not path.is_absolute():
        raise user_error(f"inputData uri: a local path must be absolute: {uri}")
    found = Path(os.path.realpath(path))
    if not any(_inside(found, root) for root in allowed_roots(profile)):
        raise ApiError(403, "Forbidden", f"inputData uri: {uri} is outside the folders this profile reads (the "
                       "folders of its data.files and amlbatch's local datastores).")
    if not found.exists():
        raise user_error(f"inputData uri: no such file or folder: {uri}")
    return str(found)


def _iso(seconds: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + "Z" if seconds else None


def endpoint_id(profile: Any) -> str:
    """The endpoint's ARM id, as Azure names it (the local subscription is "local" when unset)."""
    return (f"/subscriptions/{profile.account.subscription_id or 'local'}/resourceGroups/"
            f"{profile.workspace.resource_group}/providers/Microsoft.MachineLearningServices/workspaces/"
            f"{profile.workspace.name}/batchEndpoints/{profile.endpoint_name}")


def job_resource(profile: Any, job: JobInfo) -> dict[str, Any]:
    """A run as Azure's batch job resource; what only a local run knows (its results folder, rows,
    failed files, error) is in properties.properties under amlbatch.* keys."""
    kind = "UriFile" if not job.input.startswith(DATASTORE_PREFIX) and Path(job.input).is_file() else "UriFolder"
    settings = profile.endpoint
    extra = {"amlbatch.output": job.output, "amlbatch.rows": str(job.rows),
             "amlbatch.failedFiles": str(job.failures)}
    if job.error:
        extra["amlbatch.error"] = job.error
    return {
        "id": f"{endpoint_id(profile)}/jobs/{job.job_id}",
        "name": job.job_id,
        "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints/jobs",
        "properties": {
            "status": job.status, "description": None,
            "properties": {"azureml.batchrun": "true", "azureml.deploymentname": settings.deployment,
                           "azureml.endpointname": profile.endpoint_name, **extra},
            "interactionEndpoints": {},
            "inputData": {"input_data": {"jobInputType": kind, "uri": job.input}},
            "outputDataset": {"datastoreId": None, "path": output_uri(profile, job.job_id)},
            "outputFileName": settings.output_file_name,
            "errorThreshold": settings.error_threshold, "miniBatchSize": settings.mini_batch_size,
            "retrySettings": {"maxRetries": settings.max_retries, "timeout": f"PT{settings.timeout}S"},
            "compute": None, "dataset": None, "partitionKeys": None, "provisioningState": "Succeeded",
            "startTime": _iso(job.submitted),
            "endTime": _iso(job.submitted + job.duration) if job.finished else None,
        },
        "systemData": {"createdAt": _iso(job.submitted), "createdBy": "amlbatch --serve",
                       "createdByType": "Application"},
    }


def job_list(profile: Any, jobs: list[JobInfo]) -> dict[str, Any]:
    return {"value": [job_resource(profile, job) for job in jobs], "nextLink": None}
