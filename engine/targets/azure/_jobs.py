"""Scoring runs on Azure: submit (invoke the endpoint), follow, list, cancel, download, preview.

* A job is an invocation of the profile's batch endpoint with an explicit job name (our job id):
  an invocation retried after a dropped connection finds the job it already made instead of
  starting a second one.
* Input: the uploaded data (`azureml://datastores/<input datastore>/paths/<data.prefix>`) or, with
  `input_path`, a local file or folder uploaded first to `jobs/<job id>/` in the input container.
* Output: a fresh folder per job, `azureml://datastores/<output datastore>/paths/<endpoint>/<job id>/`
  (an existing predictions file is never overwritten by Azure, so a shared folder would mix runs).
* Following polls the job and emits JobStatus/JobLog, and, from the logs the scoring step publishes
  (see _progress), JobProgress and the failed files; canceling the token cancels the job.
* Scheduled runs (pipeline jobs a schedule started, see steps.schedule) are listed beside the
  invocations, marked with the schedule's name; they write to the same output folder per job.
* Results come from the job's CHILD (the scoring step; the parent pipeline job has no files):
  `jobs.list(parent_job_name=...)` then `jobs.download(child, output_name="score")`. When the
  SDK's download fails, the files are read with our blob code (Entra ID; a 403 names the data role
  the identity lacks, see _blob).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from engine import deployment
from engine import events as ev
from engine.errors import AmlBatchError, Canceled
from engine.jobinfo import TERMINAL, JobInfo, new_job_id
from engine.targets.azure import _capture, _errors, _lro
from engine.targets.azure._base import get_or_none, logging_to, sdk_error
from engine.targets.azure._progress import ProgressReader

FOLLOW_EVERY = 10.0  # seconds between status polls (scaled by _lro.CLOCK.scale, at least 50 ms)
CANCEL_GRACE = 120.0  # seconds to wait for a canceled job to say Canceled
_STAMP = re.compile(r"-(\d{14})-[0-9a-f]{6}$")
_DATASTORE_URI = re.compile(r"^azureml://datastores/([^/]+)/paths/(.*)$", re.I)


def _status(job: Any) -> str:
    status = getattr(job, "status", None)
    return str(getattr(status, "value", status) or "Unknown")


def _submitted(job_id: str, job: Any = None) -> float:
    created = getattr(getattr(job, "creation_context", None), "created_at", None)
    if created is not None and hasattr(created, "timestamp"):
        return created.timestamp()
    match = _STAMP.search(job_id)
    if match:  # engine.jobinfo.new_job_id stamps the local time into the id
        return time.mktime(time.strptime(match.group(1), "%Y%m%d%H%M%S"))
    return 0.0


class AzureJobs:
    """submit_job, follow_job, list_jobs, get_job, cancel_job, download_results, preview_rows."""

    profile: Any
    emit: Any
    cancel: Any
    session: Any  # engine.targets.azure.session.Session

    # ------------------------------------------------------------------ helpers

    def _job_logging(self, job_id: str, emit: Any = None) -> Any:
        emit = emit or self.emit

        def ours(message: str, level: str) -> None:
            emit(ev.JobLog(job_id, "amlbatch", message, level))

        def sdk(message: str, level: str) -> None:
            emit(ev.JobLog(job_id, "sdk", message, "debug"))

        return logging_to(ours, sdk)

    @staticmethod
    def _guard(what: str) -> "_Guard":
        """Turn Azure errors of a job call into an AmlBatchError with what to do."""
        return _Guard(what)

    def output_uri(self, job_id: str) -> str:
        return deployment.output_uri(self.profile, job_id)

    def _location_of(self, uri: str) -> tuple[str, str, str]:
        """(storage account, container, prefix) of an azureml://datastores/... URI."""
        match = _DATASTORE_URI.match(uri or "")
        if not match:
            raise AmlBatchError(f"cannot read results from {uri}: not a datastore path")
        datastore, path = match.group(1), match.group(2)
        store = self.session.ml.datastores.get(datastore)
        return store.account_name, store.container_name, path

    def _info(self, job_id: str, job: Any, output: str = "", input_uri: str = "") -> JobInfo:
        outputs = getattr(job, "outputs", None) or {}
        score = outputs.get("score") if hasattr(outputs, "get") else None
        output = output or str(getattr(score, "path", "") or "") or self.output_uri(job_id)
        output = output.replace("${{name}}", job_id)  # a scheduled run's path, should Azure return it unresolved
        if not input_uri:
            inputs = getattr(job, "inputs", None) or {}
            for value in (inputs.values() if hasattr(inputs, "values") else []):
                input_uri = str(getattr(value, "path", "") or "")
                if input_uri:
                    break
        return JobInfo(job_id, _status(job), _submitted(job_id, job), input=input_uri, output=output)

    def _studio(self, job: Any) -> str:
        services = getattr(job, "services", None) or {}
        studio = services.get("Studio") if hasattr(services, "get") else None
        return str(getattr(studio, "endpoint", "") or "")

    # ------------------------------------------------------------------ submit

    def submit_job(self, input_path: str | None = None) -> JobInfo:
        p = self.profile
        job_id = new_job_id(p)
        with self._job_logging(job_id), self._guard(f"submit a scoring run to endpoint '{p.endpoint_name}'"):
            input_uri = deployment.input_uri(p)
            if input_path is not None:
                input_uri = self._upload_job_input(job_id, Path(input_path).expanduser())
            output = self.output_uri(job_id)
            job = self._invoke(job_id, input_uri, output)
            return JobInfo(job_id, _status(job) if getattr(job, "status", None) else "Queued", time.time(),
                           input=input_uri, output=output)

    def _upload_job_input(self, job_id: str, source: Path) -> str:
        p = self.profile
        ws = self.session.ws_value(None)
        prefix = f"jobs/{job_id}"
        if source.is_file():
            items = [(source, f"{prefix}/{source.name}", source.stat().st_size)]
        else:
            items = [(f, f"{prefix}/{f.relative_to(source).as_posix()}", f.stat().st_size)
                     for f in sorted(source.rglob("*")) if f.is_file()]
        if not items:
            raise AmlBatchError(f"--input: {source} has no files to score")
        total = sum(size for _, _, size in items)
        self.emit(ev.JobLog(job_id, "upload", f"uploading {len(items)} files ({total:,} bytes) to "
                                              f"{p.storage.input_container}/{prefix}"))
        self.session.upload_files(ws["storage_account"], p.storage.input_container, items, self.cancel,
                                  lambda done, whole: None)
        return deployment.datastore_uri(p.storage.input_datastore, prefix) + "/"

    def _invoke(self, job_id: str, input_uri: str, output: str) -> Any:
        from azure.ai.ml import Input, Output

        p = self.profile
        try:
            return self.session.ml.batch_endpoints.invoke(
                endpoint_name=p.endpoint_name, input=Input(type="uri_folder", path=input_uri),
                outputs={"score": Output(type="uri_folder", path=output)}, job_name=job_id)
        except Exception as exc:  # noqa: BLE001
            # the request may have arrived although its answer did not: the fixed job name tells
            existing = get_or_none(lambda: self.session.ml.jobs.get(job_id))
            if existing is not None:
                return existing
            if "No valid deployments to route to" in str(exc):
                raise AmlBatchError(f"endpoint '{p.endpoint_name}' has no default deployment: run the "
                                    "provisioning (amlbatch --profile ... --yes) first") from None
            if _errors.is_not_found(exc):
                raise AmlBatchError(f"endpoint '{p.endpoint_name}' does not exist: run the provisioning first") \
                    from None
            raise

    # ------------------------------------------------------------------ follow

    def follow_job(self, job_id: str, emit: Any, cancel: Any) -> JobInfo:
        start = time.monotonic()
        every = max(0.05, FOLLOW_EVERY * _lro.CLOCK.scale)
        with self._job_logging(job_id, emit), self._guard(f"follow scoring run {job_id}"):
            last = ""
            canceled_at: float | None = None
            progress = ProgressReader(self, job_id, emit)
            while True:
                job = self.session.ml.jobs.get(job_id)
                status = _status(job)
                if status != last:
                    last = status
                    emit(ev.JobStatus(job_id, status))
                    emit(ev.JobLog(job_id, "status", f"{status} after {_lro.fmt_elapsed(time.monotonic() - start)}"))
                if status not in ("NotStarted", "Queued", "Preparing", "Starting", "Provisioning"):
                    progress.poll()
                if status in TERMINAL:
                    break
                if canceled_at is None and cancel.canceled:
                    canceled_at = time.monotonic()
                    self.session.ml.jobs.begin_cancel(job_id)
                    emit(ev.JobLog(job_id, "amlbatch", "cancel requested; waiting for Azure to stop the job",
                                   "warning"))
                if canceled_at is not None:
                    if time.monotonic() - canceled_at > CANCEL_GRACE:
                        emit(ev.JobLog(job_id, "amlbatch", "the job is still stopping in Azure", "warning"))
                        break
                    time.sleep(every)
                elif cancel.wait(every):
                    continue
            info = self._info(job_id, job)
            info.duration = round(time.monotonic() - start, 1)
            info.failed_files = progress.failed_files
            info.failures = len(progress.failed_files)
            if status == "Completed":
                info.rows = self._count_rows(info.output)
                done, total, items, everything, _ = progress.figures
                emit(ev.JobProgress(job_id, done or 1, total or 1, items, max(everything, items), info.rows,
                                    info.failures))
            elif status == "Failed":
                studio = self._studio(job)
                info.error = "the scoring job failed" + (f"; its logs are in Azure ML studio: {studio}" if studio
                                                         else "")
            emit(ev.JobFinished(job_id, info.status, info.rows, info.failures, info.duration, info.output,
                                info.error))
            return info

    def _count_rows(self, output: str) -> int:
        e = self.profile.endpoint
        if e.output_action != "append_row":
            return 0
        try:
            account, container, prefix = self._location_of(output)
            name = prefix.rstrip("/") + "/" + e.output_file_name

            def count(client: Any) -> int:  # streamed: a large results file is never held in memory
                lines, last = 0, b"\n"
                for chunk in client.get_blob_client(container, name).download_blob().chunks():
                    lines += chunk.count(b"\n")
                    last = chunk[-1:] or last
                return lines + (0 if last == b"\n" else 1)
            return self.session.blobs(account).run(count)
        except Exception as exc:  # noqa: BLE001 - counting is a nicety; never fail the run on it
            if not _errors.is_not_found(exc):
                self.emit(ev.StepLog("", f"could not count result rows: {type(exc).__name__}: {exc}", "debug"))
            return 0

    # ------------------------------------------------------------------ list, get, cancel

    def list_jobs(self) -> list[JobInfo]:
        p = self.profile
        with self._guard(f"list the scoring runs of endpoint '{p.endpoint_name}'"):
            try:
                found = list(self.session.ml.batch_endpoints.list_jobs(endpoint_name=p.endpoint_name))
            except Exception as exc:  # noqa: BLE001
                if _errors.is_not_found(exc):
                    return []
                raise
        invoked = [JobInfo(j.name, _status(j), _submitted(j.name), output=self.output_uri(j.name)) for j in found]
        return invoked + self._scheduled_runs()

    def _scheduled_runs(self) -> list[JobInfo]:
        """The pipeline jobs this profile's schedules started: they carry its tags and TAG_SCHEDULE (see
        steps.schedule), also after the schedule is gone."""
        from engine.targets.azure.steps.schedule import TAG_SCHEDULE

        with self._guard(f"list the scheduled scoring runs of profile '{self.profile.name}'"):
            try:
                found = list(self.session.ml.jobs.list())
            except Exception as exc:  # noqa: BLE001
                if _errors.is_not_found(exc):
                    return []
                raise
        runs = []
        for job in found:
            tags = getattr(job, "tags", None) or {}
            if tags.get(TAG_SCHEDULE) and self.session.ours(dict(tags)):
                runs.append(dataclasses.replace(self._info(job.name, job), scheduled=tags[TAG_SCHEDULE]))
        return runs

    def get_job(self, job_id: str) -> JobInfo:
        with self._guard(f"read scoring run {job_id}"):
            job = get_or_none(lambda: self.session.ml.jobs.get(job_id))
        if job is None:
            raise AmlBatchError(f"no scoring run '{job_id}' in workspace '{self.profile.workspace.name}' "
                                "(list them with --jobs)")
        return self._info(job_id, job)

    def cancel_job(self, job_id: str) -> None:
        with self._guard(f"cancel scoring run {job_id}"):
            self.session.ml.jobs.begin_cancel(job_id)

    # ------------------------------------------------------------------ results

    def child_job(self, job_id: str) -> Any:
        """The scoring step of a batch job: the outputs are on it, not on the parent."""
        children = list(self.session.ml.jobs.list(parent_job_name=job_id))
        return children[0] if children else None

    def download_results(self, job_id: str, out_dir: Path) -> list[Path]:
        out_dir = Path(out_dir)
        with self._job_logging(job_id), self._guard(f"download the results of {job_id}"):
            job = self.session.ml.jobs.get(job_id)
            output = self._info(job_id, job).output
            child = self.child_job(job_id)
            if child is not None:
                with tempfile.TemporaryDirectory(prefix="amlbatch-results-") as tmp:
                    try:
                        self.session.ml.jobs.download(child.name, output_name="score", download_path=tmp)
                        files = [f for f in sorted(Path(tmp).rglob("*")) if f.is_file()]
                    except Exception as exc:  # noqa: BLE001 - e.g. no data rights: use our blob code
                        if not sdk_error(exc):
                            raise
                        files = []
                        self.emit(ev.JobLog(job_id, "amlbatch", f"downloading through the job failed "
                                                                f"({type(exc).__name__}); reading the output "
                                                                "folder directly", "debug"))
                    if files:
                        root = Path(tmp) / "named-outputs" / "score"
                        base = root if root.is_dir() else Path(tmp)
                        copied = []
                        for f in files:
                            rel = f.relative_to(base) if f.is_relative_to(base) else Path(f.name)
                            dest = out_dir / rel
                            dest.parent.mkdir(parents=True, exist_ok=True)
                            shutil.move(str(f), dest)
                            copied.append(dest)
                        return copied
            return self._download_folder(output, out_dir)

    def _download_folder(self, uri: str, out_dir: Path) -> list[Path]:
        account, container, prefix = self._location_of(uri)
        prefix = prefix.rstrip("/") + "/"
        blobs = self.session.blobs(account)
        names = blobs.run(lambda c: [b.name for b in c.get_container_client(container)
                                     .list_blobs(name_starts_with=prefix)])
        copied = []
        for name in names:
            dest = out_dir / name[len(prefix):]
            dest.parent.mkdir(parents=True, exist_ok=True)
            data = blobs.run(lambda c: c.get_blob_client(container, name).download_blob().readall())
            dest.write_bytes(data)
            copied.append(dest)
        return copied

    def preview_rows(self, job_id: str, limit: int = 10) -> list[str]:
        e = self.profile.endpoint
        if e.output_action != "append_row":
            return []
        with self._guard(f"read the results of {job_id}"):
            account, container, prefix = self._location_of(self.output_uri(job_id))
            name = prefix.rstrip("/") + "/" + e.output_file_name
            try:
                data = self.session.blobs(account).run(lambda c: c.get_blob_client(container, name)
                                               .download_blob(offset=0, length=64 * 1024).readall())
            except Exception as exc:  # noqa: BLE001
                if _errors.is_not_found(exc):
                    return []
                raise
        lines = data.decode("utf-8", errors="replace").splitlines()
        if len(data) == 64 * 1024 and lines:
            lines = lines[:-1]  # the last line may be cut
        return [line for line in lines if line.strip()][:limit]


class _Guard:
    def __init__(self, what: str):
        self.what = what

    def __enter__(self) -> None:
        _capture.quiet_loggers()

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        if exc is None or isinstance(exc, (AmlBatchError, Canceled)):
            return False
        if sdk_error(exc):
            raise _errors.explain(exc, self.what) from None
        return False
