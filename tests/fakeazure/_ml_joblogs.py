"""What a running batch job publishes, as Azure ML does: its logs are run artifacts, kept in the workspace's
artifact store (datastore ``workspaceartifactstore``, container ``azureml``) under
``ExperimentRun/dcid.<child run id>/``:

* ``logs/job_progress_overview.txt``: the mini-batch progress of the parallel scoring step;
* ``logs/user/error.txt``: one line per file the scorer could not score, ``<file>: <reason>``;
* ``logs/user/stdout/<node>/process000.stdout.txt``: what the scoring script printed.

Tests choose failing files with ``file_errors`` (file name -> reason): the fake's scorer skips them."""

from __future__ import annotations

import math
import time

from ._ml_jobs import Job

ARTIFACT_CONTAINER = "azureml"


def _stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


class JobLogsMixin:
    #: file name (the input file's base name) -> the reason the scorer gives for skipping it
    file_errors: dict[str, str] = {}

    def job_log_path(self, job: Job, name: str) -> str:
        return f"ExperimentRun/dcid.{job.name}/logs/{name}"

    def _publish_progress(self, job: Job, files: list[tuple[str, bytes]] | None, *, finished: bool) -> None:
        """Write the child job's progress overview and logs (called on the parent's status changes)."""
        if job.kind != "batch" or not job.children:
            return
        child = job.ws.jobs[job.children[0].lower()]
        account = self.storage_accounts.get(job.ws.storage_account)
        if account is None or ARTIFACT_CONTAINER not in account["containers"]:
            return
        if files is None:
            try:
                files = self._input_files(job)
            except Exception:  # noqa: BLE001 - no inputs yet: nothing to report
                return
        dep = job.ws.deployments.get((job.endpoint or "").lower(), {}).get((job.deployment or "").lower()) or {}
        size = int((dep.get("properties") or {}).get("miniBatchSize") or 10)
        total = max(1, math.ceil(len(files) / size))
        done = total if finished else total // 2
        failed = [(n.rsplit("/", 1)[-1], self.file_errors[n.rsplit("/", 1)[-1]]) for n, _ in files[:done * size]
                  if n.rsplit("/", 1)[-1] in self.file_errors]
        items = min(len(files), done * size)
        overview = (f"{_stamp()} The job has started.\n"
                    f"{_stamp()} Total mini batches: {total}, total items: {len(files)}\n"
                    f"{_stamp()} Processed mini batches: {done}\n"
                    f"{_stamp()} Processed items: {items}, succeeded items: {items - len(failed)}, "
                    f"failed items: {len(failed)}\n")
        if finished:
            overview += f"{_stamp()} The job is complete.\n"
        write = lambda name, data: self._write_blob(account, ARTIFACT_CONTAINER,  # noqa: E731
                                                    self.job_log_path(child, name), data.encode(),
                                                    content_type="text/plain")
        write("job_progress_overview.txt", overview)
        write("user/error.txt", "".join(f"{n}: {reason}\n" for n, reason in failed))
        write("user/stdout/node0/process000.stdout.txt",
              "".join(f"scored mini batch {i + 1} of {total}\n" for i in range(done)))
