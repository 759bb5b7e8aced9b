"""Train the demo model and export it in a pickle-free format.

    python -m scorer.train            # re-creates scorer/model/
    python -m scorer.train --out DIR  # writes the same files elsewhere

The model: StandardScaler + LogisticRegression on scikit-learn's bundled copy of the Breast Cancer
Wisconsin (Diagnostic) dataset (569 rows, 30 features, classes malignant/benign; shipped inside the
scikit-learn wheel, no download). The dataset is by W. H. Wolberg, W. N. Street and
O. L. Mangasarian, UCI Machine Learning Repository, licensed CC BY 4.0
(https://doi.org/10.24432/C5DW2B).

Files written (all byte-for-byte reproducible, so re-running this leaves git clean):

- ``model.npz``: the fitted parameters as plain float64 arrays (``mean``, ``scale``, ``coef``,
  ``intercept``), loadable with ``numpy.load(..., allow_pickle=False)``. No pickle, no joblib: a
  model file is code-free data.
- ``model.json``: feature names, class names, model kind, version, accuracy, dataset credits.
- ``reference.npz``: the dataset itself (``data`` float64 569x30, ``target`` int8) so that
  ``scorer.sample_data`` can make demo input with numpy alone (scikit-learn is only a dev
  dependency of amlbatch).

scikit-learn is needed only here (training), never for scoring.
"""

from __future__ import annotations

import argparse
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MODEL_DIR = Path(__file__).resolve().parent / "model"
MODEL_KIND = "standard_scaler+logistic_regression"
MODEL_VERSION = "1"
RANDOM_STATE = 0
TEST_SIZE = 0.2
DATASET = {
    "name": "Breast Cancer Wisconsin (Diagnostic)",
    "source": "sklearn.datasets.load_breast_cancer (copy of the UCI Machine Learning Repository dataset)",
    "authors": "W. H. Wolberg, W. N. Street, O. L. Mangasarian",
    "url": "https://doi.org/10.24432/C5DW2B",
    "license": "CC BY 4.0",
}
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamp: reproducible .npz bytes


@dataclass
class Trained:
    pipeline: Any  # sklearn Pipeline(StandardScaler, LogisticRegression)
    feature_names: list[str]
    class_names: list[str]
    data: np.ndarray  # the whole dataset, float64 (569, 30)
    target: np.ndarray  # int labels, index into class_names
    train_accuracy: float
    test_accuracy: float


def train_model(random_state: int = RANDOM_STATE) -> Trained:
    """Fit the demo model; deterministic for a given `random_state` (lbfgs has no randomness,
    the split is seeded)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ds = load_breast_cancer()
    X = np.asarray(ds.data, dtype=np.float64)
    y = np.asarray(ds.target)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=random_state, stratify=y)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))
    pipeline.fit(X_train, y_train)
    return Trained(
        pipeline=pipeline,
        feature_names=[str(n) for n in ds.feature_names],
        class_names=[str(n) for n in ds.target_names],
        data=X,
        target=y,
        train_accuracy=float(pipeline.score(X_train, y_train)),
        test_accuracy=float(pipeline.score(X_test, y_test)),
    )


def model_arrays(trained: Trained) -> dict[str, np.ndarray]:
    """The fitted parameters exactly as scikit-learn holds them (float64)."""
    scaler, clf = trained.pipeline[0], trained.pipeline[-1]
    if list(clf.classes_) != [0, 1]:
        raise RuntimeError(f"unexpected classes {clf.classes_!r}")
    return {
        "mean": np.ascontiguousarray(scaler.mean_, dtype=np.float64),
        "scale": np.ascontiguousarray(scaler.scale_, dtype=np.float64),
        "coef": np.ascontiguousarray(clf.coef_.T, dtype=np.float64),  # (30, 1), as sklearn multiplies
        "intercept": np.ascontiguousarray(clf.intercept_, dtype=np.float64),  # (1,)
    }


def model_metadata(trained: Trained) -> dict[str, Any]:
    import sklearn

    return {
        "kind": MODEL_KIND,
        "version": MODEL_VERSION,
        "feature_names": trained.feature_names,
        # index 0/1 = the label sklearn predicts for a decision value <= 0 / > 0
        "class_names": trained.class_names,
        "probability_of": trained.class_names[0],  # the score column: P(malignant)
        "train_accuracy": round(trained.train_accuracy, 6),
        "test_accuracy": round(trained.test_accuracy, 6),
        "training": {"test_size": TEST_SIZE, "random_state": RANDOM_STATE,
                     "trained_with": f"scikit-learn {sklearn.__version__}"},
        "dataset": DATASET,
    }


def save_npz(path: Path, arrays: dict[str, np.ndarray], compress: bool = False) -> None:
    """Like numpy.savez, but with fixed zip timestamps so the bytes are reproducible, and never
    any object array (numpy.load(..., allow_pickle=False) reads it)."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=method) as zf:
        for name, array in arrays.items():
            if array.dtype.hasobject:
                raise ValueError(f"{name}: object arrays are not allowed")
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    tmp.replace(path)


def export(trained: Trained, out_dir: Path = MODEL_DIR) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_npz, model_json = out_dir / "model.npz", out_dir / "model.json"
    reference = out_dir / "reference.npz"
    save_npz(model_npz, model_arrays(trained))
    model_json.write_text(json.dumps(model_metadata(trained), indent=2) + "\n", encoding="utf-8")
    # The dataset for scorer.sample_data (CC BY 4.0, credits in model.json).
    save_npz(reference, {"data": trained.data.astype(np.float64),
                         "target": trained.target.astype(np.int8)}, compress=True)
    return [model_npz, model_json, reference]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scorer.train", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL_DIR, help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    trained = train_model()
    for path in export(trained, args.out):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    print(f"train accuracy {trained.train_accuracy:.4f}, test accuracy {trained.test_accuracy:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
