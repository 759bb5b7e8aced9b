"""What Azure does with an MLflow model deployed without code (documented in "Deploy MLflow models in
batch deployments"): it generates the scoring script and environment, loads the model with its
python_function flavour, reads each input file as a DataFrame (.csv, .parquet, .pqt; any other type
fails the job), calls predict() once per file and appends one row per input row to the output file,
without a header: the row's index in its file, the prediction, the file name."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Callable

from ._ml_jobs import JobFailure

MLFLOW_MODEL = "mlflow_model"
TABULAR = (".csv", ".parquet", ".pqt")


def is_no_code_mlflow(model_version: dict | None, deployment: dict) -> bool:
    """A deployment Azure scores itself: an MLflow model with no codeConfiguration."""
    props = deployment.get("properties") or {}
    model_type = ((model_version or {}).get("properties") or {}).get("modelType")
    return model_type == MLFLOW_MODEL and not (props.get("codeConfiguration") or {}).get("codeId")


def _read(name: str, data: bytes):
    import pandas as pd

    suffix = Path(name).suffix.lower()
    if suffix not in TABULAR:
        raise JobFailure(f"Error processing input file: '{name}'. File type '{suffix.lstrip('.')}' is not "
                         "supported.")
    return pd.read_csv(io.BytesIO(data)) if suffix == ".csv" else pd.read_parquet(io.BytesIO(data))


def scorer(model_files: dict[str, bytes]) -> Callable[[list[tuple[str, bytes]], dict], bytes]:
    """A fake ``scorer`` that scores with the MLflow model made of `model_files` (path -> bytes)."""

    def score(files: list[tuple[str, bytes]], deployment: dict) -> bytes:
        import mlflow.pyfunc
        import pandas as pd

        with tempfile.TemporaryDirectory(prefix="fake-mlflow-") as tmp:
            for rel, data in model_files.items():
                (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / rel).write_bytes(data)
            found = sorted(Path(tmp).rglob("MLmodel"))
            if not found:
                raise JobFailure("The MLflow model has no MLmodel file.")
            model = mlflow.pyfunc.load_model(str(found[0].parent))
            frames = []
            for name, data in files:
                table = _read(name, data)
                frames.append(pd.DataFrame({"row": range(len(table)), "prediction": list(model.predict(table)),
                                            "file": name.rsplit("/", 1)[-1]}))
        return pd.concat(frames).to_csv(header=False, index=False).encode() if frames else b""

    return score
