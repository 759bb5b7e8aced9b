"""The scoring script of an MLflow model on the local target: what Azure's batch deployment
generates for an MLflow model deployed without code.

The batch runner loads this file as it loads a user's score.py (init() once per worker, run() per
mini-batch). Like Azure's MLflow batch scoring it loads the model with its python_function
flavour, reads each input file as a pandas DataFrame (.csv, .parquet, .pqt), calls predict() once
per file and returns one row per input row: the row's index in its file, the prediction as the
model returned it, and the file's name. A file it cannot read or score counts as failed, with the
reason (pop_failures). It imports nothing of amlbatch: it runs with its own folder on sys.path.
"""

from __future__ import annotations

import os
from pathlib import Path

# the words of engine.mlflowmodel.MISSING_EXTRA (this file imports nothing of amlbatch)
MISSING_EXTRA = "MLflow models need amlbatch's mlflow extra: install amlbatch[mlflow] (uv sync --extra mlflow)"
READERS = {".csv": "read_csv", ".parquet": "read_parquet", ".pqt": "read_parquet"}

model = None
failures: list[tuple[str, str]] = []


def _model_path(root: Path) -> Path:
    """AZUREML_MODEL_DIR holds the MLmodel file itself or one folder that does (as on Azure)."""
    if (root / "MLmodel").is_file():
        return root
    found = sorted(p.parent for p in root.glob("*/MLmodel"))
    if not found:
        raise FileNotFoundError(f"no MLmodel file in {root} or a folder inside it")
    return found[0]


def init() -> None:
    global model
    try:
        import mlflow.pyfunc
        import pandas  # noqa: F401 - predict() takes and returns pandas objects
    except ImportError as exc:
        raise RuntimeError(f"{MISSING_EXTRA} ({exc})") from None
    path = _model_path(Path(os.environ["AZUREML_MODEL_DIR"]))
    try:
        model = mlflow.pyfunc.load_model(str(path))
    except ModuleNotFoundError as exc:
        raise RuntimeError(f"the MLflow model needs the Python module '{exc.name}': install what its "
                           f"requirements.txt lists ({path / 'requirements.txt'}) beside amlbatch") from None


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value  # numpy scalars as Python's


def _prediction(value: object) -> object:
    """One prediction as the model returned it: a list when the model gives several values a row."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        value = [_plain(item) for item in value]
        return value[0] if len(value) == 1 else str(value)
    return _plain(value)


def _score(path: str):
    import pandas as pd

    reader = READERS.get(Path(path).suffix.lower())
    if reader is None:
        raise ValueError(f"File type '{Path(path).suffix.lstrip('.') or '(none)'}' is not supported "
                         f"(MLflow batch scoring reads {', '.join(READERS)})")
    data = getattr(pd, reader)(path)
    predicted = model.predict(data)
    if isinstance(predicted, pd.DataFrame):
        values = predicted.iloc[:, 0] if predicted.shape[1] == 1 else list(predicted.itertuples(index=False))
    elif isinstance(predicted, pd.Series):
        values = predicted
    else:
        values = list(predicted)
    values = [_prediction(value) for value in values]
    if len(values) != len(data):
        raise ValueError(f"predict() returned {len(values)} predictions for {len(data)} rows")
    return pd.DataFrame({"row": range(len(data)), "prediction": values, "file": os.path.basename(path)})


def run(mini_batch: list[str]):
    import pandas as pd

    results = []
    for path in mini_batch:
        try:
            results.append(_score(path))
        except Exception as exc:  # noqa: BLE001 - one bad file fails that file, not the mini-batch
            failures.append((path, f"{type(exc).__name__}: {exc}"))
    if not results:
        return pd.DataFrame({"row": [], "prediction": [], "file": []})
    return pd.concat(results, ignore_index=True)


def pop_failures() -> list[tuple[str, str]]:
    found = failures[:]
    failures.clear()
    return found
