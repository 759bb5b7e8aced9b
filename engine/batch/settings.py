"""What a local batch job takes and gives back: `BatchSettings` (the deployment settings plus
`init_timeout`), `BatchResult` and the job's end states (COMPLETED, FAILED, CANCELED)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.deployment import APPEND_ROW, LOG_LEVELS, SUMMARY_ONLY, DeploymentSettings
from engine.validation import portable_file_name

COMPLETED, FAILED, CANCELED = "Completed", "Failed", "Canceled"


@dataclass(frozen=True)
class BatchSettings(DeploymentSettings):
    """Azure ML batch deployment settings (same names and defaults), plus `init_timeout`.

    From a profile: `BatchSettings.from_profile(profile)`; from a stored record:
    `BatchSettings.from_dict(data)` (both inherited; `init_timeout` keeps its default unless given)."""

    init_timeout: float = 600.0  # seconds for a worker to start, import the script and init()

    def validate(self) -> None:
        problems = []
        if self.mini_batch_size < 1:
            problems.append("mini_batch_size must be >= 1")
        if self.instance_count < 1 or self.max_concurrency_per_instance < 1:
            problems.append("instance_count and max_concurrency_per_instance must be >= 1")
        if self.output_action not in (APPEND_ROW, SUMMARY_ONLY):
            problems.append(f"output_action must be {APPEND_ROW} or {SUMMARY_ONLY}")
        if (why := portable_file_name(self.output_file_name)) is not None:
            problems.append(f"output_file_name must be a plain file name ({why})")
        if self.error_threshold < -1:
            problems.append("error_threshold must be >= -1")
        if self.max_retries < 0:
            problems.append("max_retries must be >= 0")
        if not self.timeout > 0 or not self.init_timeout > 0:
            problems.append("timeout and init_timeout must be > 0")
        if self.logging_level.lower() not in LOG_LEVELS:
            problems.append(f"logging_level must be one of {', '.join(LOG_LEVELS)}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass
class BatchResult:
    status: str  # Completed | Failed | Canceled
    rows: int = 0  # results returned by run(): output rows (append_row) or items (summary_only)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (file, error), first 1000
    failed_files: int = 0  # all failed files (the error_threshold count)
    files_total: int = 0
    files_done: int = 0  # files of finished mini-batches (scored or failed)
    mini_batches_total: int = 0
    mini_batches_done: int = 0
    duration: float = 0.0
    output_file: Path | None = None  # append_row and Completed only
    partial_file: Path | None = None  # Failed: rows of the mini-batches that completed
    error: str = ""
    workers: int = 0  # worker processes run at the same time
