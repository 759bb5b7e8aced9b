"""What a scoring run is, on every target: its id, status and counts."""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

TERMINAL = ("Completed", "Failed", "Canceled")


@dataclass
class JobInfo:
    job_id: str
    status: str
    submitted: float
    input: str = ""
    output: str = ""  # where the results are (a folder path locally, an azureml:// URI on Azure)
    rows: int = 0
    failures: int = 0
    duration: float = 0.0
    error: str = ""
    failed_files: list[list[str]] = field(default_factory=list)  # [file, error]
    scheduled: str = ""  # the schedule that started the run; empty for a run you submitted

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobInfo":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


def new_job_id(profile: Any) -> str:
    """Sortable and unique: time first, so `--jobs` lists in order."""
    return f"{profile.endpoint_name}-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
