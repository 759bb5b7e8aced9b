"""Scoring runs on the local target (the job half of LocalTarget, mixed in).

A submitted job runs in its own detached host process (engine.targets.local.jobhost), as a job on
a cluster would: the submitter can follow it, stop following, or exit, and the job goes on. The
host writes the job's events to JOB_DIR/events.jsonl and its state to JOB_DIR/job.json; following
a job is reading that file. Canceling writes JOB_DIR/cancel and, where there is SIGTERM, signals
the host to stop at once (on Windows the host notices the file within a fraction of a second).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from engine import events as ev
from engine import leftovers, mlflowmodel
from engine.deployment import DeploymentSettings, input_uri
from engine.errors import AmlBatchError, StepError
from engine.fileio import read_json, write_json
from engine.jobinfo import JobInfo, new_job_id
from engine.targets.local.state import LocalState, confined, read
from engine.validation import portable_file_name

CANCEL_MARKER = "cancel"  # the file in JOB_DIR that asks the host to stop (see jobhost)
HOST_MODULE = "engine.targets.local.jobhost"
HOST_FILE = "host.json"  # in JOB_DIR: the host's pid and start time


# How the host is detached from the submitter, so that Ctrl+C in the submitter's terminal does not
# reach it and it goes on after the submitter exits.
if sys.platform == "win32":
    _DETACH: dict[str, Any] = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
else:
    _DETACH = {"start_new_session": True}


def _started(pid: int) -> float | None:
    """When the process started: with its pid, it tells the host from a later process given that pid."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _running(pid: int, started: float | None) -> bool:
    try:
        process = psutil.Process(pid)
        return (started is not None and abs(process.create_time() - started) < 1.0
                and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # it exists, we may not look at it


def _host_of(job_dir: Path) -> dict[str, Any] | None:
    """The job host's pid and start time; None while it is being started. Jobs submitted by an
    earlier amlbatch kept only a `pid` file: its process counts when it exists at all."""
    try:
        return read_json(job_dir / HOST_FILE)
    except FileNotFoundError:
        pass
    try:
        pid = int((job_dir / "pid").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return {"pid": pid, "started": _started(pid)}


class LocalJobs(LocalState):
    """Submit, follow, list, cancel and fetch the results of scoring runs."""

    _children: list[subprocess.Popen]

    def _job_dir(self, job_id: str) -> Path:
        path = confined(self.jobs_dir / job_id)
        if portable_file_name(job_id) is not None or job_id.startswith(".") or not (path / "job.json").exists():
            raise AmlBatchError(f"no scoring run '{job_id}' for profile '{self.profile.name}' "
                                "(list them with --jobs)")
        return path

    def _input_files(self, input_path: str | None) -> tuple[list[str], str]:
        if input_path:
            root = Path(input_path).expanduser().resolve()
            files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
            if not files:
                raise AmlBatchError(f"--input: no files in {root}")
            return [str(p) for p in files], str(root)
        account = self.storage_account()
        prefix = self.profile.data.prefix.strip("/")
        container = self.container_dir(account, self.profile.storage.input_container) / "blobs"
        root = container / prefix if prefix else container
        files = sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
        if not files:
            raise AmlBatchError(f"no uploaded data under {self.profile.storage.input_container}/{prefix}: "
                                "add files to data.files and provision, or pass --input PATH")
        return files, input_uri(self.profile)

    def submit_job(self, input_path: str | None, job_id: str | None = None) -> JobInfo:
        """`job_id`: the name an invocation of the local service chose (engine.serve); else a new one."""
        deployment = read(self.deployment_file)
        endpoint = read(self.endpoint_file)
        if not deployment or not endpoint or endpoint.get("default_deployment") != deployment["name"]:
            raise StepError(f"endpoint '{self.profile.endpoint_name}' has no default deployment yet: "
                            f"provision first (amlbatch --profile {self.profile.name} --yes)")
        settings = deployment["settings"]
        files, input_label = self._input_files(input_path)
        for ended in self.list_jobs():  # what a killed job left in its output folder
            if ended.finished and ended.output:
                leftovers.sweep_job_output(Path(ended.output))
        job_id = job_id or new_job_id(self.profile)
        job_dir = confined(self.jobs_dir / job_id)
        if job_dir.exists():
            raise AmlBatchError(f"A job with name '{job_id}' already exists.")
        account = self.storage_account()
        output_dir = confined(self.container_dir(account, self.profile.storage.output_container) / "blobs"
                              / self.profile.endpoint_name / job_id)
        model_name, model_version = settings["model"].split(":", 1)
        if settings.get("code"):
            code_name, code_version = settings["code"].split(":", 1)
            code_dir, script = self.asset_dir("code", code_name, code_version), settings["scoring_script"]
        else:  # an MLflow model: the built-in driver scores it, as Azure's generated script does
            mlflowmodel.require_extra()
            code_dir, script = mlflowmodel.DRIVER_DIR, mlflowmodel.DRIVER
        job = JobInfo(job_id, "Queued", time.time(), input=input_label, output=str(output_dir))
        spec = {
            "files": files,
            "code_dir": str(code_dir),
            "model_dir": str(self.asset_dir("model", model_name, model_version)),
            "script": script,
            # the deployment's settings, plus the local runner's own bound on init() (Azure has none)
            "settings": {**DeploymentSettings.from_dict(settings).to_dict(),
                         "init_timeout": self.profile.endpoint.init_timeout},
            "output_dir": str(output_dir),
        }
        (job_dir / "logs").mkdir(parents=True)
        write_json(job_dir / "spec.json", spec)
        write_json(job_dir / "job.json", job.to_dict())
        (job_dir / "events.jsonl").touch()
        with open(job_dir / "logs" / "host.txt", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", HOST_MODULE, str(job_dir)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=str(job_dir), **_DETACH,
            )
        write_json(job_dir / HOST_FILE, {"pid": process.pid, "started": _started(process.pid)})
        self._children = getattr(self, "_children", []) + [process]
        return job

    def get_job(self, job_id: str) -> JobInfo:
        job_dir = self._job_dir(job_id)
        job = JobInfo.from_dict(read_json(job_dir / "job.json"))
        if not job.finished and not self._host_alive(job_dir):
            # The host died without writing its end state (killed, machine restarted).
            job = JobInfo.from_dict(read_json(job_dir / "job.json"))  # it may have just finished
            if not job.finished and (job_dir / CANCEL_MARKER).exists():
                job.status, job.error = "Canceled", "canceled before the job started"
            elif not job.finished:
                job.status, job.error = "Failed", "the job's host process exited unexpectedly"
                write_json(job_dir / "job.json", job.to_dict())
        return job

    def _host_alive(self, job_dir: Path) -> bool:
        for child in getattr(self, "_children", []):
            child.poll()  # reap our own finished hosts so they do not linger as zombies
        host = _host_of(job_dir)
        if host is None:
            return True  # being started right now
        return _running(host["pid"], host["started"])

    def list_jobs(self) -> list[JobInfo]:
        if not self.jobs_dir.is_dir():
            return []
        return [self.get_job(p.parent.name) for p in self.jobs_dir.glob("*/job.json")]

    def cancel_job(self, job_id: str) -> None:
        job_dir = self._job_dir(job_id)
        (job_dir / CANCEL_MARKER).touch()
        if sys.platform == "win32":
            return  # the host polls the marker; os.kill on Windows would terminate it, not ask it to stop
        host = _host_of(job_dir)
        try:
            if host is not None and _running(host["pid"], host["started"]):
                os.kill(host["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass

    def follow_job(self, job_id: str, emit: ev.Emit, cancel: Any) -> JobInfo:
        """Replay the job's events as the host writes them, until its JobFinished event."""
        job_dir = self._job_dir(job_id)
        asked_to_cancel = False
        with open(job_dir / "events.jsonl", encoding="utf-8") as handle:
            pending = ""
            while True:
                pending += handle.read()
                *lines, pending = pending.split("\n")
                for line in lines:
                    if line.strip():
                        event = ev.from_dict(json.loads(line))
                        emit(event)
                        if isinstance(event, ev.JobFinished):
                            return self.get_job(job_id)
                if lines:
                    continue
                if cancel.canceled and not asked_to_cancel:
                    asked_to_cancel = True
                    self.cancel_job(job_id)
                if not self._host_alive(job_dir):
                    rest = handle.read()
                    if rest:
                        pending += rest
                        continue
                    # The host is gone without a last event: report what job.json says.
                    job = self.get_job(job_id)
                    emit(ev.JobFinished(job_id, job.status, job.rows, job.failures, job.duration,
                                        job.output, job.error))
                    return job
                time.sleep(0.05)

    def download_results(self, job_id: str, out_dir: Path) -> list[Path]:
        job = self.get_job(job_id)
        source = Path(job.output)
        files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else []
        copied = []
        for path in files:
            dest = out_dir / path.relative_to(source)
            if dest.exists() and dest.read_bytes() != path.read_bytes():
                raise AmlBatchError(f"{dest} exists and differs; choose another --out folder")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            copied.append(dest)
        return copied

    def preview_rows(self, job_id: str, limit: int) -> list[str]:
        job = self.get_job(job_id)
        spec = read_json(self._job_dir(job_id) / "spec.json")
        path = Path(job.output) / spec["settings"]["output_file_name"]
        rows = []
        if path.is_file():
            with open(path, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    rows.append(line.rstrip("\n"))
                    if len(rows) >= limit:
                        break
        return rows
