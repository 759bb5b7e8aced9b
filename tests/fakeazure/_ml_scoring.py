"""The fake "scoring" of a batch job reaching Completed: read every input blob, call ``scorer``, write the
output file."""

from __future__ import annotations

import re
import zlib
from typing import Callable

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

    #: callable(files: list[(relative name, bytes)], deployment JSON) -> bytes written as the output file
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

    def _score(self, job: Job) -> None:
        ws = job.ws
        files = self._input_files(job)
        if not files:
            raise JobFailure(f"No input files were found at {', '.join(job.inputs.values())}. "
                              "Batch jobs need at least one file to score.")
        self._publish_progress(job, files, finished=True)
        skipped = getattr(self, "file_errors", {}) or {}
        files = [(n, d) for n, d in files if n.rsplit("/", 1)[-1] not in skipped]
        dep = ws.deployments.get((job.endpoint or "").lower(), {}).get((job.deployment or "").lower()) or {}
        try:
            output = self.scorer(files, dep)
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
