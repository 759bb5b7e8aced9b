"""Run records: every event of a run, with its time, as JSON lines under the data folder."""

from __future__ import annotations

import json
import time
from typing import Any

from engine import events as ev
from engine import paths
from engine.secrets import redact_event


class RunRecord:
    """Appends every event of a run to `<data>/runs/<profile>/<time>-<action>-<id>.jsonl`."""

    def __init__(self, profile: Any, run_id: str, action: str):
        folder = paths.runs_dir(profile.name)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.path = folder / f"{stamp}-{action}-{run_id[:8]}.jsonl"
        self._handle = open(self.path, "a", encoding="utf-8")

    def __call__(self, event: ev.Event) -> None:
        event = redact_event(event)  # whoever emits, nothing unmasked is stored
        self._handle.write(json.dumps(event.to_dict(), default=str) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def guarded(emit: ev.Emit) -> ev.Emit:
    """The consumer's emit, where its output failing (a closed pipe: `amlbatch ... | head -2`, a
    full disk under a redirect) is the consumer's affair: it is told no more, the run goes on, and
    its record is not marked failed for it."""
    broken: list[OSError] = []

    def call(event: ev.Event) -> None:
        if broken:
            return
        try:
            emit(event)
        except OSError as exc:
            broken.append(exc)

    return call


def last_run(profile_name: str) -> dict[str, Any] | None:
    """How the profile's newest run that could change something ended (plans are left out)."""
    folder = paths.runs_dir(profile_name)
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob("*.jsonl"), reverse=True):
        if "-plan-" in path.name:
            continue
        started = finished = None
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    data = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a record cut off by a crash
                if data.get("type") == "run_started":
                    started = data
                elif data.get("type") == "run_finished":
                    finished = data
        if started:
            return {"action": started["action"], "ts": started["ts"],
                    "outcome": finished["outcome"] if finished else "interrupted"}
    return None
