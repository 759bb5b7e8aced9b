"""Scoring script of the amlbatch demo model, for an Azure ML *model batch deployment*.

Contract (Azure ML batch endpoints, also honoured by amlbatch's local runner):

``init()``
    Called once per worker process. Finds ``model.npz`` (and ``model.json`` beside it) under
    ``os.environ["AZUREML_MODEL_DIR"]``, in that folder or any subfolder (Azure puts a registered
    model folder one level down). Loads with ``numpy.load(..., allow_pickle=False)``: the model
    file is plain arrays, never pickled code.

``run(mini_batch: list[str]) -> list[str]``
    ``mini_batch`` is a list of file paths: CSV files, or Parquet files (name ending ``.parquet``).
    A CSV file has a header row naming the 30 feature columns (any order; names as in
    ``model.json``) and optionally an ``id`` column; extra columns are ignored. A Parquet file
    has the same columns by name (numeric features; the id of any type). Returns one string per
    input *row* (append_row then concatenates them into ``predictions.csv``, without a header).
    The columns of each string, comma-separated:

        file,id,label,probability

    - ``file``: the input file's base name
    - ``id``: the row's ``id`` value as written, or its 0-based row index when there is no ``id``
    - ``label``: the predicted class, ``malignant`` or ``benign``
    - ``probability``: the predicted probability of ``malignant``, as ``"%.12g"`` writes it
      (12 significant digits; made in bulk by pyarrow, byte for byte what ``"%.12g"`` gives)

Bad files: a file that cannot be scored (unreadable, no header, a missing feature column, a
non-numeric, missing or non-finite value, a ragged row, a damaged Parquet file) is *skipped*: ``run()`` keeps scoring the other
files of the mini-batch, logs one WARNING line naming the file and the reason, and remembers
``(path, reason)`` for ``pop_failures()``. It does not raise, because on Azure an exception
fails the whole mini-batch (the good files' rows would be lost and the mini-batch retried for
nothing); on Azure the bad file is then named in the user logs. An empty file with just the
header is not an error (it has no rows).

``pop_failures() -> list[tuple[str, str]]`` (amlbatch extension, ignored by Azure)
    The files the last ``run()`` call skipped, with the reason; the local runner calls it after
    every ``run()`` to report bad files by name and count them against ``error_threshold``.

Output action ``summary_only``: when ``AMLBATCH_OUTPUT_ACTION=summary_only`` and
``AZUREML_BI_OUTPUT_PATH`` is set, ``run()`` writes each file's predictions to
``$AZUREML_BI_OUTPUT_PATH/<file stem>.predictions.csv`` (with a header row ``id,label,probability``)
and returns the paths of the files it scored (bad files are left out, so on Azure they count as
failed items too).

Dependencies: numpy and pyarrow (its CSV and Parquet readers parse the files; its compute
functions write the output rows).
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

log = logging.getLogger("amlbatch.scorer")

_model: "_Model | None" = None
_failures: list[tuple[str, str]] = []
_ARROW_MIN_BYTES = 32 << 10  # smaller files are read by the plain path (pyarrow costs ~0.3 ms a call)
_BULK_MIN_ROWS = 64  # fewer output rows are written by Python's f-strings (see _lines)


class _Model:
    """StandardScaler + binary LogisticRegression, evaluated exactly as scikit-learn does."""

    def __init__(self, npz_path: str):
        meta_path = os.path.join(os.path.dirname(npz_path), "model.json")
        with open(meta_path, encoding="utf-8") as handle:
            meta = json.load(handle)
        with np.load(npz_path, allow_pickle=False) as arrays:
            self.mean = np.asarray(arrays["mean"], dtype=np.float64)
            self.scale = np.asarray(arrays["scale"], dtype=np.float64)
            self.coef = np.asarray(arrays["coef"], dtype=np.float64).reshape(-1, 1)
            self.intercept = np.asarray(arrays["intercept"], dtype=np.float64).reshape(1)
        self.feature_names: list[str] = list(meta["feature_names"])
        self.class_names: list[str] = list(meta["class_names"])
        self.kind: str = meta.get("kind", "")
        self.version: str = str(meta.get("version", ""))
        n = len(self.feature_names)
        if self.mean.shape != (n,) or self.scale.shape != (n,) or self.coef.shape != (n, 1):
            raise ValueError(f"{npz_path}: parameter shapes do not match {n} features")
        if len(self.class_names) != 2:
            raise ValueError(f"{meta_path}: expected 2 class names")
        self.index = {name: i for i, name in enumerate(self.feature_names)}

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(label index, probability of class 0) per row, as sklearn's predict/predict_proba."""
        Z = (X - self.mean) / self.scale
        decision = (Z @ self.coef).ravel() + self.intercept[0]
        p1 = 1.0 / (1.0 + np.exp(-decision))  # expit: P(class 1)
        return (decision > 0).astype(np.intp), 1.0 - p1


def _find_model(root: str) -> str:
    if os.path.isfile(root):
        return root
    found = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        if "model.npz" in names:
            found.append(os.path.join(folder, "model.npz"))
    if not found:
        raise FileNotFoundError(f"no model.npz under AZUREML_MODEL_DIR={root}")
    return min(found, key=lambda p: (p.count(os.sep), p))  # the shallowest one


def init() -> None:
    global _model
    root = os.environ.get("AZUREML_MODEL_DIR")
    if not root:
        raise RuntimeError("AZUREML_MODEL_DIR is not set")
    path = _find_model(root)
    _model = _Model(path)
    log.info("loaded %s model v%s from %s", _model.kind, _model.version, path)


def _read(path: str, model: _Model) -> tuple[list[str] | None, np.ndarray]:
    """(ids or None, feature matrix in model order) of one CSV file; raises ValueError if bad.

    The fast path (files over _ARROW_MIN_BYTES) parses the body with pyarrow's CSV reader (one
    thread, typed columns, no quoting, no null markers: the same fields ``str.split(",")`` sees).
    Anything it refuses (a ragged row, a value it cannot convert, a blank-looking line) goes to
    ``_read_text``, the plain numpy path, which either reads it the same way or names the problem.
    A ``.parquet`` file is read by ``_read_parquet``."""
    if path.lower().endswith(".parquet"):
        return _read_parquet(path, model)
    with open(path, "rb") as handle:
        data = handle.read()
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    end = data.find(b"\n", start)
    end = len(data) if end < 0 else end
    header = data[start:end].decode("utf-8")
    names = [n.strip().strip('"').strip() for n in header.split(",")]
    if not header.strip():
        raise ValueError("empty file: no header row")
    columns: dict[str, int] = {}
    for position, name in enumerate(names):
        columns.setdefault(name, position)
    missing = [n for n in model.feature_names if n not in columns]
    if missing:
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        raise ValueError(f"missing column(s): {', '.join(missing[:3])}{more}")
    id_col = next((i for i, n in enumerate(names) if n.lower() == "id"), None)
    usecols = [columns[n] for n in model.feature_names]
    try:
        if len(data) - end > _ARROW_MIN_BYTES:  # below, pyarrow's fixed cost per call is more than it saves
            return _read_arrow(memoryview(data)[end + 1:], len(names), usecols, id_col)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        pass  # the plain path reads it the same way, or names what is wrong
    text = data[start:].decode("utf-8")
    return _read_text(text.partition("\n")[2].replace("\r\n", "\n").replace("\r", "\n"), names, usecols, id_col)


def _matrix(table: pa.Table, names: list[str]) -> np.ndarray:
    """The named columns as one float64 matrix (rows x columns, C order: what predict() was
    checked against), nulls as NaN; arrow lays the rows out in one pass, which is twice as fast as
    stacking the columns with numpy. Raises ValueError naming the first row with a missing or
    non-finite value."""
    table = table.select(names)
    if any(kind != pa.float64() for kind in table.schema.types):
        table = table.cast(pa.schema([(name, pa.float64()) for name in names]))
    batches = table.combine_chunks().to_batches()
    X = batches[0].to_tensor(null_to_nan=True).to_numpy() if batches else np.empty((0, len(names)))
    if not np.isfinite(X).all():
        row, col = (int(i) for i in np.argwhere(~np.isfinite(X))[0])
        if not table.column(col)[row].is_valid:
            raise ValueError(f"missing value in column {names[col]}, data row {row + 1}")
        raise ValueError(f"non-finite value in data row {row + 1}")
    return X


def _read_parquet(path: str, model: _Model) -> tuple[pa.Array | None, np.ndarray]:
    """The feature columns (by name) and the id column (``id`` in any case, if there is one) of a
    Parquet file; raises ValueError if bad."""
    import pyarrow.parquet as pq  # only when there is Parquet to read: its import costs 10 MB

    try:
        # mapped, no read-ahead by pyarrow's I/O threads: the worker reads one file at a time
        parquet = pq.ParquetFile(path, memory_map=True, pre_buffer=False)
        names = parquet.schema_arrow.names
        missing = [n for n in model.feature_names if n not in names]
        if missing:
            more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
            raise ValueError(f"missing column(s): {', '.join(missing[:3])}{more}")
        id_name = next((n for n in names if n.lower() == "id"), None)
        wanted = model.feature_names + ([id_name] if id_name is not None else [])
        table = parquet.read(columns=wanted, use_threads=False)
    except pa.ArrowException as exc:
        raise ValueError(f"not a readable Parquet file: {exc}") from None
    for name in model.feature_names:
        column = table.column(name)
        if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
            raise ValueError(f"column {name} is not numeric ({column.type})")
    X = _matrix(table, model.feature_names)
    ids = None
    if id_name is not None:
        column = table.column(id_name).combine_chunks()
        if column.null_count:
            raise ValueError(f"missing value in column {id_name}, data row "
                             f"{int(pc.index(pc.is_null(column), True).as_py()) + 1}")
        ids = column.cast(pa.string()) if not pa.types.is_string(column.type) else column
    return ids, X


def _read_arrow(body: memoryview, width: int, usecols: list[int], id_col: int | None
                ) -> tuple[pa.Array | None, np.ndarray]:
    labels = [f"c{i}" for i in range(width)]
    types = {labels[i]: pa.float64() for i in usecols}
    wanted = [labels[i] for i in usecols]
    if id_col is not None:
        types[labels[id_col]] = pa.string()
        wanted.append(labels[id_col])
    table = pa_csv.read_csv(
        pa.py_buffer(body),
        read_options=pa_csv.ReadOptions(use_threads=False, column_names=labels,
                                             block_size=max(1 << 14, len(body) + 1)),
        parse_options=pa_csv.ParseOptions(quote_char=False),
        convert_options=pa_csv.ConvertOptions(column_types=types, include_columns=wanted, null_values=[],
                                              strings_can_be_null=False))
    X = _matrix(table, [labels[i] for i in usecols])
    ids = None
    if id_col is not None:
        ids = pc.utf8_trim_whitespace(table.column(labels[id_col]).combine_chunks())
    return ids, X


def _read_text(body: str, names: list[str], usecols: list[int], id_col: int | None
               ) -> tuple[list[str] | None, np.ndarray]:
    """The plain path: numpy's loadtxt over the body's lines (blank lines skipped)."""
    lines = body.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return ([] if id_col is not None else None), np.empty((0, len(usecols)))
    X = _parse(lines, usecols)
    if X.shape[0] != len(lines):  # loadtxt skips blank lines: keep ids aligned
        lines = [line for line in lines if line.strip()]
        X = _parse(lines, usecols)
    width = len(names)
    if sum(line.count(",") for line in lines) != X.shape[0] * (width - 1):
        # loadtxt with usecols ignores fields beyond the last used column: a longer row would
        # shift values silently, so reject it
        bad = next((i for i, line in enumerate(lines) if line.count(",") != width - 1), 0)
        raise ValueError(f"data row {bad + 1} has {lines[bad].count(',') + 1} fields, the header {width}")
    ids = None
    if id_col == 0:
        ids = [line.partition(",")[0].strip() for line in lines]
    elif id_col is not None:
        ids = [line.split(",")[id_col].strip() for line in lines]
    return ids, X


def _parse(lines: list[str], usecols: list[int]) -> np.ndarray:
    try:
        X = np.loadtxt(lines, delimiter=",", usecols=usecols, ndmin=2, comments=None, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"bad data: {exc}") from None
    if not np.isfinite(X).all():
        row = int(np.argwhere(~np.isfinite(X))[0][0])
        raise ValueError(f"non-finite value in data row {row + 1}")
    return X


def _summary_dir() -> str | None:
    if os.environ.get("AMLBATCH_OUTPUT_ACTION", "append_row") != "summary_only":
        return None
    return os.environ.get("AZUREML_BI_OUTPUT_PATH") or None


def _probability_text(proba: np.ndarray) -> pa.Array:
    """Each probability as ``"%.12g" % p`` writes it, made in bulk. A p in [1e-4, 1] is rounded
    to 12 significant digits here (p * 10**k to an integer, then back: the double nearest that
    12-digit decimal) and pyarrow writes the shortest text that reads back as it, which is that
    decimal without trailing zeros, as "%.12g" writes it. Python formats the rest: below 1e-4
    ("%.12g" switches to an exponent there), and values whose scaled fraction is so near .5
    that the float product could round the wrong way."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scale = 10.0 ** (11 - np.floor(np.log10(proba)))
        scaled = proba * scale
        fraction = scaled - np.floor(scaled)
        fast = ((proba >= 1e-4) & (proba <= 1.0) & (scaled >= 1e11 - 0.5) & (scaled < 1e12)
                & (np.abs(fraction - 0.5) > 1e-3))
        rounded = np.where(fast, np.rint(scaled) / scale, 0.0)
    text = pc.cast(pa.array(rounded), pa.string())
    if not fast.all():
        slow = ~fast
        exact = pa.array(["%.12g" % p for p in proba[slow].tolist()], pa.string())
        text = pc.replace_with_mask(text, pa.array(slow), exact)
    return text


def _lines(lead: str, ids, labels: np.ndarray, proba: np.ndarray, class_names: list[str]) -> list[str]:
    """One line per row: `lead` (the file's name and a comma, or nothing), id, label, probability
    ("%.12g"). pyarrow writes them in bulk; below _BULK_MIN_ROWS rows Python's f-strings are
    cheaper than pyarrow's fixed cost per call, and give the same bytes."""
    n = len(proba)
    if n < _BULK_MIN_ROWS:
        if ids is None:
            ids = range(n)
        elif isinstance(ids, pa.Array):
            ids = ids.to_pylist()
        label_text = [class_names[i] for i in labels.tolist()]
        return [f"{lead}{i},{lab},{p:.12g}" for i, lab, p in zip(ids, label_text, proba.tolist())]
    if ids is None:  # no id column: the row's index
        ids = pc.cast(pa.array(np.arange(n)), pa.string())
    elif not isinstance(ids, pa.Array):
        ids = pa.array(ids, pa.string())
    columns = [ids, pa.array(class_names, pa.string()).take(pa.array(labels)), _probability_text(proba)]
    if lead:
        columns.insert(0, pa.scalar(lead[:-1]))
    return pc.binary_join_element_wise(*columns, ",").to_pylist()


def run(mini_batch: list[str]) -> list[str]:
    if _model is None:
        raise RuntimeError("init() was not called")
    model = _model
    _failures.clear()
    summary_dir = _summary_dir()
    out: list[str] = []
    for path in mini_batch:
        path = str(path)
        try:
            ids, X = _read(path, model)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            reason = str(exc) or type(exc).__name__
            _failures.append((path, reason))
            log.warning("skipped bad file %s: %s", path, reason)
            continue
        labels, proba = model.predict(X)
        if summary_dir is None:
            out.extend(_lines(os.path.basename(path) + ",", ids, labels, proba, model.class_names))
        else:
            stem = os.path.splitext(os.path.basename(path))[0]
            target = os.path.join(summary_dir, f"{stem}.predictions.csv")
            lines = _lines("", ids, labels, proba, model.class_names)
            with open(target + ".tmp", "w", encoding="utf-8") as handle:
                handle.write("id,label,probability\n")
                handle.write("".join(line + "\n" for line in lines))
            os.replace(target + ".tmp", target)
            out.append(path)
    return out


def pop_failures() -> list[tuple[str, str]]:
    """The (path, reason) of each file the last run() skipped; clears the list."""
    failures = list(_failures)
    _failures.clear()
    return failures
