"""Deterministic sample input for the demo scorer, made from the real dataset with numpy alone.

    from scorer.sample_data import write_sample_files
    paths = write_sample_files("data/")               # 20 files x 500 rows
    paths = write_sample_files("data/", fmt="parquet")   # the same rows as Parquet files
    python -m scorer.sample_data data/ --files 50 --rows 2000 [--format parquet]

Rows are drawn with replacement from the 569 rows of the Breast Cancer Wisconsin (Diagnostic)
dataset (W. H. Wolberg, W. N. Street, O. L. Mangasarian; UCI Machine Learning Repository,
CC BY 4.0), stored in ``scorer/model/reference.npz`` by ``python -m scorer.train``, so neither
scikit-learn nor a download is needed at run time. Each value gets a little Gaussian noise, scaled
per feature (``noise`` x the feature's standard deviation) and clipped at 0 (every feature is
non-negative), so files are not verbatim copies of the dataset; ``noise=0`` reproduces real rows.

Each file: a header ``id,<the 30 feature names>``, then ``rows_per_file`` rows; the ``id`` is unique
across the files of one call (``file index * rows_per_file + row``). Values have 6 significant
digits. File ``k`` depends only on ``(seed, k, rows_per_file, noise)``: asking for more files
adds files and leaves the first ones unchanged.

``fmt="parquet"`` writes the same rows (the values read back from the CSV text, so both formats
score alike) as ``<prefix>-NNNN.parquet``: an int64 ``id`` column and float64 features, one row
group, plain encoding without dictionary, compression or column statistics (noisy 6-digit floats
neither repeat nor compress: those cost reading time and save almost no space). Needs pyarrow,
which the scorer's environment has.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

MODEL_DIR = Path(__file__).resolve().parent / "model"
DEFAULT_FILES = 20
DEFAULT_ROWS = 500
DEFAULT_NOISE = 0.02
FORMATS = ("csv", "parquet")


def load_reference(model_dir: Path | str = MODEL_DIR) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """(data float64 (569, 30), target int8, feature names, class names) of the dataset copy."""
    model_dir = Path(model_dir)
    with np.load(model_dir / "reference.npz", allow_pickle=False) as ref:
        data, target = np.asarray(ref["data"], dtype=np.float64), np.asarray(ref["target"])
    meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    return data, target, list(meta["feature_names"]), list(meta["class_names"])


def sample_rows(data: np.ndarray, n: int, rng: np.random.Generator, noise: float) -> np.ndarray:
    rows = data[rng.integers(0, data.shape[0], size=n)]
    if noise > 0:
        rows = rows + rng.standard_normal(rows.shape) * (noise * data.std(axis=0))
        np.maximum(rows, 0.0, out=rows)
    return rows


def write_sample_files(folder: Path | str, files: int = DEFAULT_FILES, rows_per_file: int = DEFAULT_ROWS,
                       seed: int = 0, noise: float = DEFAULT_NOISE, prefix: str = "sample",
                       model_dir: Path | str = MODEL_DIR, fmt: str = "csv") -> list[Path]:
    """Write `files` files named ``<prefix>-0000.csv`` (or ``.parquet``)... into `folder` (created
    if needed) and return their paths, in order. Same arguments, same bytes."""
    if files < 0 or rows_per_file < 0:
        raise ValueError("files and rows_per_file must be >= 0")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data, _target, names, _classes = load_reference(model_dir)
    header = "id," + ",".join(names) + "\n"
    row_format = "%d," + ",".join(["%.6g"] * len(names)) + "\n"
    width = max(4, len(str(max(files - 1, 0))))
    paths = []
    for k in range(files):
        rng = np.random.default_rng([seed, k])
        rows = sample_rows(data, rows_per_file, rng, noise)
        first_id = k * rows_per_file
        text = "".join([row_format % (first_id + i, *values)
                        for i, values in enumerate(rows.tolist())])
        path = folder / f"{prefix}-{k:0{width}d}.{fmt}"
        tmp = path.with_name(path.name + ".tmp")
        if fmt == "parquet":
            _write_parquet(tmp, header + text)
        else:
            with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(header)
                handle.write(text)
        os.replace(tmp, path)
        paths.append(path)
    return paths


def _write_parquet(path: Path, text: str) -> None:
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    table = pa_csv.read_csv(pa.py_buffer(text.encode("utf-8")))
    table = table.cast(pa.schema([pa.field(name, pa.int64() if name == "id" else pa.float64())
                                  for name in table.column_names]))
    pq.write_table(table, path, use_dictionary=False, compression="none", write_statistics=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scorer.sample_data", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--files", type=int, default=DEFAULT_FILES)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows per file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=DEFAULT_NOISE)
    parser.add_argument("--format", choices=FORMATS, default="csv", dest="fmt")
    args = parser.parse_args(argv)
    paths = write_sample_files(args.folder, args.files, args.rows, args.seed, args.noise, fmt=args.fmt)
    print(f"wrote {len(paths)} files x {args.rows} rows to {args.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
