"""The fake "scoring" of a batch job reaching Completed: read every input blob, call ``scorer``, write the
output file."""

from __future__ import annotations

import re
import zlib
from typing import Callable

from . import _ml_mlflow
from ._arm_authorization import permits
from ._http import ApiError
from ._ml_jobs import Job, JobFailure


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


class ScoringMixin:
    """Input URIs (datastore paths, blob URLs, data assets) are read from the fake's storage."""

    #: callable(files: list[(relative name, bytes)], deployment JSON) -> bytes written as the output file; a
    #: scheduled run passes its parallel step's settings in the deployment's shape (see _ml_schedules)
    scorer: Callable[[list[tuple[str, bytes]], dict], bytes] = staticmethod(default_scorer)

    def _resolve_data_uri(self, ws, uri: str) -> tuple[dict, str, str]:
        """uri -> (blob account state, container, prefix). Raises JobFailure when it cannot be read."""
        m = re.match(r"^azureml://(?:subscriptions/[^/]+/resource[gG]roups/[^/]+/(?:providers/"
                     r"Microsoft\.MachineLearningServices/)?workspaces/[^/]+/)?datastores/([^/]+)/paths/(.*)$", uri)
        if m:
            ds = ws.datastores.get(m.group(1).lower())
            if ds is None:
                raise JobFailure(f"Datastore '{m.group(1)}' does not exist in workspace '{ws.name}'.")
            p = ds["properties"]
            if p.get("datastoreType") != "AzureBlob":
                raise JobFailure(f"Datastore '{ds['name']}' is {p.get('datastoreType')}; the fake reads AzureBlob "
                                  "datastores only.")
            account = self.storage_accounts.get(p["accountName"].lower())
            if account is None:
                raise JobFailure(f"Storage account '{p['accountName']}' of datastore '{ds['name']}' is not "
                                  "reachable.")
            if p["containerName"] not in account["containers"]:
                raise JobFailure(f"Container '{p['containerName']}' of datastore '{ds['name']}' does not exist "
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
                raise JobFailure(f"Cannot read {uri}: no such container.")
            return account, container, prefix or ""
        m = re.match(r"^(?:azureml:)?([^:/]+):([^:/]+)$", uri) or re.search(r"/data/([^/]+)/versions/([^/]+)$", uri)
        if m:
            entry = ws.assets.get("data", {}).get(m.group(1).lower())
            version = entry and entry["versions"].get(m.group(2))
            if not version:
                raise JobFailure(f"Data asset '{m.group(1)}:{m.group(2)}' was not found.")
            return self._resolve_data_uri(ws, version["properties"]["dataUri"])
        raise JobFailure(f"Unsupported input URI '{uri}'.")

    def _input_files(self, job: Job) -> list[tuple[str, bytes]]:
        ws = job.ws
        files: list[tuple[str, bytes]] = []
        for uri in job.inputs.values():
            account, container, prefix = self._resolve_data_uri(ws, uri)
            blobs = account["containers"][container]["blobs"]
            folder = prefix if prefix.endswith("/") or not prefix else prefix + "/"
            names = sorted(n for n in blobs if n == prefix or n.startswith(folder))
            files.extend((n[len(folder):] if n.startswith(folder) else n.rsplit("/", 1)[-1],
                          blobs[n]["data"]) for n in names)
        return files

    def _scoring_of(self, job: Job) -> dict:
        """The deployment-shaped settings a batch job scores with: a scheduled run's own, else its deployment's."""
        if job.scoring is not None:
            return job.scoring
        return job.ws.deployments.get((job.endpoint or "").lower(), {}).get((job.deployment or "").lower()) or {}

    def _mlflow_scorer(self, ws, dep: dict) -> Callable[[list[tuple[str, bytes]], dict], bytes] | None:
        """Azure's own scoring of an MLflow model deployed without code (see _ml_mlflow), else None."""
        ref = ((dep.get("properties") or {}).get("model") or {}).get("assetId")
        try:
            version = self._resolve_asset_ref(ws, ref, "models") if ref else None
        except ApiError as exc:
            raise JobFailure(exc.message)
        if not _ml_mlflow.is_no_code_mlflow(version, dep):
            return None
        account, container, prefix = self._resolve_data_uri(ws, version["properties"]["modelUri"])
        folder = prefix.rstrip("/") + "/"
        blobs = account["containers"][container]["blobs"]
        return _ml_mlflow.scorer({n[len(folder):]: b["data"] for n, b in blobs.items() if n.startswith(folder)})

    def _run_identity(self, job: Job) -> str | None:
        """The principal a scheduled run reaches data with: its cluster's managed identity (credential-less
        datastores). None for an invoked job (it reads as its invoker, whose rights the caller knobs model)."""
        if job.scoring is None:
            return None
        compute = str((job.scoring.get("properties") or {}).get("compute") or "")
        found = job.ws.computes.get(compute.removeprefix("azureml:").rsplit("/", 1)[-1].lower()) or {}
        return (found.get("identity") or {}).get("principalId") or ""

    def _check_data_access(self, job: Job, uri: str, action: str) -> None:
        """Azure storage answers 403 AuthorizationPermissionMismatch to an identity without a blob data role:
        the run fails with that (its user log's) message."""
        oid = self._run_identity(job)
        if oid is None:
            return
        account, container, _ = self._resolve_data_uri(job.ws, uri)
        scope = f"{self.storage_scope(account['name'])}/blobServices/default/containers/{container}"
        verb = "read" if action == "read" else "write"
        if not permits(self.assigned_permissions(oid, scope),
                       f"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/{verb}", data=True):
            who = f"the compute's managed identity '{oid}'" if oid else "the compute, which has no managed identity,"
            raise JobFailure(f"AuthorizationPermissionMismatch: This request is not authorized to perform this "
                             f"operation using this permission ({action} {uri} as {who}).")

    def _score(self, job: Job) -> None:
        ws = job.ws
        for uri in job.inputs.values():
            self._check_data_access(job, uri, "read")
        self._check_data_access(job, job.output_uri or "", "write")
        files = self._input_files(job)
        if not files:
            raise JobFailure(f"No input files were found at {', '.join(job.inputs.values())}. "
                              "Batch jobs need at least one file to score.")
        self._publish_progress(job, files, finished=True)
        skipped = getattr(self, "file_errors", {}) or {}
        files = [(n, d) for n, d in files if n.rsplit("/", 1)[-1] not in skipped]
        dep = self._scoring_of(job)
        scorer = self._mlflow_scorer(ws, dep) or self.scorer
        try:
            output = scorer(files, dep)
        except Exception as exc:  # noqa: BLE001 - the scorer's failure is the job's failure
            raise JobFailure(f"run() failed: {type(exc).__name__}: {exc}")
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
