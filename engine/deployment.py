"""What a batch deployment is: its settings, as one dataclass both targets and the local job host use.

The names and defaults are Azure ML's (ModelBatchDeploymentSettings); the profile's [endpoint]
section carries the same names, so `from_profile` is a plain copy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

APPEND_ROW, SUMMARY_ONLY = "append_row", "summary_only"
LOG_LEVELS = ("debug", "info", "warning")  # what a batch deployment takes (BatchLoggingLevel)


@dataclass(frozen=True)
class DeploymentSettings:
    """Azure ML batch deployment settings, same names and defaults."""

    mini_batch_size: int = 10
    instance_count: int = 1
    max_concurrency_per_instance: int = 1
    output_action: str = APPEND_ROW
    output_file_name: str = "predictions.csv"
    error_threshold: int = -1
    max_retries: int = 3
    timeout: float = 30.0  # seconds per run() call
    logging_level: str = "info"

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(DeploymentSettings))

    @classmethod
    def from_profile(cls, profile: Any) -> "DeploymentSettings":
        return cls(**{name: getattr(profile.endpoint, name) for name in DeploymentSettings.names()})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DeploymentSettings":
        """From a stored record; keys that are not settings are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def datastore_uri(datastore: str, path: str = "") -> str:
    """The azureml:// address of a path in a datastore (what jobs and schedules take as input)."""
    return f"azureml://datastores/{datastore}/paths/{path.strip('/')}"


def input_uri(profile: Any) -> str:
    """The profile's uploaded data: its input datastore at data.prefix."""
    return datastore_uri(profile.storage.input_datastore, profile.data.prefix)


def output_uri(profile: Any, job: str) -> str:
    """Where a scoring run writes: a fresh folder per job in the output datastore."""
    return datastore_uri(profile.storage.output_datastore, f"{profile.endpoint_name}/{job}") + "/"
