"""MLflow models: a `scorer.model` folder holding an MLmodel file.

Azure batch deployments take such a model with no scoring script and no environment: Azure
generates both, scores each input file with the model's python_function (pyfunc) flavour and
writes one row per input row. amlbatch does the same: on Azure the model is registered as an
MLflow model and deployed without code; on the local target the built-in driver
(engine/batch/mlflow_driver/mlflow_score.py) is the scoring script. Nothing here imports mlflow.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from engine import validation as v
from engine.errors import AmlBatchError, ProfileError

MLMODEL = "MLmodel"
DRIVER_DIR = Path(__file__).resolve().parent / "batch" / "mlflow_driver"
DRIVER = "mlflow_score.py"
# Azure's MLflow batch scoring writes these, in this order, without a header (predictions.csv)
COLUMNS = ("row", "prediction", "file")
MISSING_EXTRA = "MLflow models need amlbatch's mlflow extra: install amlbatch[mlflow] (uv sync --extra mlflow)"


def noted(detail: str, versions: dict[str, Any]) -> str:
    """A plan line of the assets step, saying when the model is an MLflow one (no environment)."""
    return detail if "environment" in versions else f"{detail} (MLflow model: no scoring script)"


def model_folder(profile: Any) -> Path:
    return profile.scorer_dir / profile.scorer.model


def is_mlflow(profile: Any) -> bool:
    """Whether the profile's model is deployed as an MLflow model: detected from its MLmodel file.
    A scorer folder that also holds the scoring script runs that script instead, as Azure lets an
    MLflow model deployment opt in to one (with an environment)."""
    return (model_folder(profile) / MLMODEL).is_file() and not (profile.scorer_dir / profile.scorer.script).is_file()


def check(profile: Any) -> bool:
    """Whether the model is an MLflow one; raises ProfileError naming scorer.model when its MLmodel
    file cannot be read, is not YAML or has no python_function flavour."""
    if not is_mlflow(profile):
        return False
    path = model_folder(profile) / MLMODEL
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(profile.source, "scorer.model", f"cannot read {path}: {exc}") from None
    rule = v.mlmodel(text)
    if rule:
        raise ProfileError(profile.source, "scorer.model", f"{path}: {rule}")
    if profile.target == "azure" and profile.schedule.frequency:
        # the azure schedule's pipeline step runs the scorer's own script in its environment
        raise ProfileError(profile.source, "schedule.frequency",
                           "an MLflow model cannot be scheduled on the azure target yet (the scheduled step "
                           "runs a scoring script and environment, which an MLflow model has none of): leave "
                           "it empty and invoke the endpoint, or add your scoring script and conda file to "
                           "the scorer folder")
    return True


def require_extra() -> None:
    """The local target scores MLflow models with mlflow and pandas, the optional extra."""
    if any(importlib.util.find_spec(name) is None for name in ("mlflow", "pandas")):
        raise AmlBatchError(MISSING_EXTRA)
