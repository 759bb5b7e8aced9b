"""Live progress of an Azure batch job, read while following it.

A batch job's scoring step (the parent's child job) publishes its logs as run artifacts in the workspace's
artifact store (datastore ``workspaceartifactstore``) under ``ExperimentRun/dcid.<child job>/logs/``:

* ``job_progress_overview.txt``: mini-batches scheduled and processed, files (items) succeeded and failed;
* ``user/error.txt``: the files the scoring script could not score, ``<file>: <reason>`` a line;
* ``user/stdout/...``: what the scoring script printed.

They are read with the blob code of the session (Entra ID, no account key), and turned
into the JobProgress and JobLog events the local runner emits. Reading progress is a nicety: a failure to
read is logged at debug level and never fails the follow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine import events as ev

ARTIFACT_STORE = "workspaceartifactstore"
_TOTAL = re.compile(r"total mini[- ]?batch(?:es)?\s*:?\s*(\d+)", re.I)
_DONE = re.compile(r"processed mini[- ]?batch(?:es)?\s*:?\s*(\d+)", re.I)
_ITEMS = re.compile(r"processed items\s*:?\s*(\d+)", re.I)
_FAILED = re.compile(r"failed items\s*:?\s*(\d+)", re.I)
_ALL = re.compile(r"total items\s*:?\s*(\d+)", re.I)


def parse_overview(text: str) -> tuple[int, int, int, int, int]:
    """(mini-batches done, total, items processed, items in all, items failed), the last figure of each."""
    def last(pattern: re.Pattern[str]) -> int:
        found = pattern.findall(text)
        return int(found[-1]) if found else 0
    return last(_DONE), last(_TOTAL), last(_ITEMS), last(_ALL), last(_FAILED)


def parse_errors(text: str) -> list[list[str]]:
    out = []
    for line in text.splitlines():
        name, sep, reason = line.partition(": ")
        if line.strip() and sep:
            out.append([name.strip(), reason.strip()])
    return out


@dataclass
class ProgressReader:
    """One per followed job; ``poll`` emits what changed since the previous poll."""

    jobs: Any  # engine.targets.azure._jobs.AzureJobs
    job_id: str
    emit: Any
    failed_files: list[list[str]] = field(default_factory=list)
    _child: str = ""
    _last: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    _seen: dict[str, int] = field(default_factory=dict)  # log blob -> characters already shown
    _where: tuple[str, str] | None = None

    def poll(self) -> None:
        try:
            self._poll()
        except Exception as exc:  # noqa: BLE001 - progress is a nicety; the job status decides
            self.emit(ev.JobLog(self.job_id, "amlbatch", f"could not read the job's progress: "
                                                         f"{type(exc).__name__}: {exc}", "debug"))

    def _poll(self) -> None:
        session = self.jobs.session
        if not self._child:
            child = self.jobs.child_job(self.job_id)
            if child is None:
                return
            self._child = child.name
        if self._where is None:
            store = session.ml.datastores.get(ARTIFACT_STORE)
            self._where = (store.account_name, store.container_name)
        account, container = self._where
        prefix = f"ExperimentRun/dcid.{self._child}/logs/"
        blobs = session.blobs(account)
        names = blobs.run(lambda c: [b.name for b in c.get_container_client(container)
                                     .list_blobs(name_starts_with=prefix)])

        def read(name: str) -> str:
            data = blobs.run(lambda c: c.get_blob_client(container, name).download_blob().readall())
            return data.decode("utf-8", errors="replace")

        overview = prefix + "job_progress_overview.txt"
        if overview in names:
            figures = parse_overview(read(overview))
            if figures != self._last and figures[1]:
                self._last = figures
                done, total, items, everything, failed = figures
                self.emit(ev.JobProgress(self.job_id, done, total, items, max(everything, items), 0, failed))
        errors = prefix + "user/error.txt"
        if errors in names:
            found = parse_errors(read(errors))
            for name, reason in found[len(self.failed_files):]:
                self.emit(ev.JobLog(self.job_id, "failed", f"{name}: {reason}", "warning"))
            if len(found) > len(self.failed_files):
                self.failed_files = found
        for name in sorted(n for n in names if n.startswith(prefix + "user/stdout/")):
            text = read(name)
            new = text[self._seen.get(name, 0):]
            self._seen[name] = len(text)
            for line in new.splitlines():
                if line.strip():
                    self.emit(ev.JobLog(self.job_id, "worker", line))

    @property
    def figures(self) -> tuple[int, int, int, int, int]:
        return self._last
