"""Helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from engine import events as ev


class Collector:
    """An `emit` that keeps every event, thread-safely, for assertions."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: ev.Event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]

    def finished(self) -> dict[str, ev.StepFinished]:
        return {e.step: e for e in self.of(ev.StepFinished)}

    def outcomes(self) -> dict[str, str]:
        return {k: e.outcome for k, e in self.finished().items()}

    def logs(self, step: str | None = None, level: str | None = None) -> list[str]:
        return [e.message for e in self.of(ev.StepLog)
                if (step is None or e.step == step) and (level is None or e.level == level)]


def write_scorer(folder: Path) -> Path:
    """A minimal user scorer folder (contract files only), for tests that provision but do not score."""
    (folder / "model").mkdir(parents=True, exist_ok=True)
    (folder / "score.py").write_text("def init():\n    pass\n\n\ndef run(mini_batch):\n    return []\n")
    (folder / "environment.yml").write_text("name: test\ndependencies:\n  - python=3.11\n")
    (folder / "model" / "weights.bin").write_bytes(b"\x00\x01\x02")
    return folder


def save_mlflow_model(folder: Path) -> Path:
    """A tiny scikit-learn classifier saved as an MLflow model: class 1 when a + b > 2."""
    import mlflow.sklearn
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    train = pd.DataFrame({"a": [0.0, 0.5, 1.0, 2.0, 2.5, 3.0], "b": [0.0, 0.5, 0.5, 1.5, 2.0, 3.0]})
    classifier = LogisticRegression(C=100.0).fit(train, [0, 0, 0, 1, 1, 1])
    # pip_requirements given: mlflow would otherwise infer them by loading the model (slow)
    mlflow.sklearn.save_model(classifier, str(folder), pip_requirements=["scikit-learn", "skops"])
    return folder
