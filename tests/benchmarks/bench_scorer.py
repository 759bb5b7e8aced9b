"""The demo scorer's rows/s per core against the old scorer, the model's raw predict rate and what
reading the input and writing the output rows cost on their own.

    uv run python -m tests.benchmarks.bench_scorer [--files 50] [--rows 2000] [--repeat 9]

Not collected by pytest. One process, one thread (BLAS threads set to 1 before numpy loads, as the
local runner does with one worker per core: an idle OpenBLAS thread spins, and process CPU time
counts it), CPU time (time.process_time, so a busy shared machine slows the wall clock but not
these figures much). It writes `--files` sample files of `--rows` rows twice, as CSV and as
Parquet (scorer.sample_data: the same rows), reads them once into the page cache, then in every
repeat runs these modes back to back (interleaved; the order rotates each repeat):

  new csv       scorer/score.py run() on the CSV files: read, parse, predict, one output row per row
  new parquet   the same run() on the Parquet files
  old           tests/benchmarks/score_baseline.py run() on the CSV files: the scorer before
                pyarrow (np.loadtxt, kept here only as the baseline)
  predict       the model's predict on the same rows already in memory (a float64 array)
  csv parse     pyarrow.csv.read_csv of the same bytes already in memory, one thread, typed columns
                (the fastest CSV parse found: the ceiling of CSV input)
  parquet read  score.py's own reading of the Parquet files into the feature matrix (open, read,
                check): the ceiling of Parquet input
  output        score.py's writing of the output rows (one "file,id,label,probability" string per
                row, what append_row takes) from predictions already in memory: the ceiling of
                the output contract

It prints rows/s per core for each mode (best of the repeats) and ratios of paired runs (each
repeat's runs against each other; min and median). A run() can be no faster than its slowest
part, so 10x the old scorer needs each of "parquet read" (or "csv parse") and "output" at 10x or
more, and all of them together: the "parts together" line adds their times per row.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy is imported anywhere in this process

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def bytecode_note() -> str:
    off = bool(os.environ.get("PYTHONDONTWRITEBYTECODE")) or sys.dont_write_bytecode
    return "bytecode: " + ("not written (PYTHONDONTWRITEBYTECODE set)" if off else "compiled and cached")


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    return module


def cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--rows", type=int, default=2000, help="rows per file")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    from scorer.sample_data import write_sample_files

    os.environ["AZUREML_MODEL_DIR"] = str(REPO / "scorer" / "model")
    os.environ.pop("AZUREML_BI_OUTPUT_PATH", None)
    new = load("score_new", REPO / "scorer" / "score.py")
    old = load("score_old", Path(__file__).with_name("score_baseline.py"))
    model = new._model
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"pyarrow {pa.__version__}; {bytecode_note()}; BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}")
    with tempfile.TemporaryDirectory(prefix="amlbatch-bench-scorer-") as tmp:
        csvs = [str(p) for p in write_sample_files(Path(tmp), files=args.files, rows_per_file=args.rows, seed=0)]
        parquets = [str(p) for p in write_sample_files(Path(tmp), files=args.files, rows_per_file=args.rows,
                                                         seed=0, fmt="parquet")]
        raw = [Path(p).read_bytes() for p in csvs]
        for path in parquets:
            Path(path).read_bytes()  # into the page cache
        header = raw[0].split(b"\n", 1)[0].decode().split(",")
        rows = args.files * args.rows
        print(f"data: {args.files} files x {args.rows} rows; CSV {sum(map(len, raw)) / rows:.0f} bytes/row, "
              f"Parquet {sum(os.path.getsize(p) for p in parquets) / rows:.0f} bytes/row")
        expected = old.run(csvs)
        assert new.run(csvs) == expected, "the new scorer's output differs from the old one's"
        assert new.run(parquets) == [line.replace(".csv,", ".parquet,", 1) for line in expected], \
            "the new scorer's output of the Parquet files differs from the old one's of the CSV files"
        usecols = [header.index(n) for n in model.feature_names]
        read = [new._read(p, model) for p in parquets]
        X = np.concatenate([x for _, x in read])
        predicted = [(os.path.basename(p) + ",", ids, *model.predict(x)) for p, (ids, x) in zip(parquets, read)]
        bodies = [b.split(b"\n", 1)[1] for b in raw]
        lines = [b.decode().splitlines() for b in bodies]
        names = [f"c{i}" for i in range(len(header))]
        types = {names[i]: pa.float64() for i in usecols}
        types[names[0]] = pa.string()
        read_opts = pa_csv.ReadOptions(use_threads=False, column_names=names, block_size=1 << 26)
        parse_opts = pa_csv.ParseOptions(quote_char=False)
        convert = pa_csv.ConvertOptions(column_types=types, null_values=[], strings_can_be_null=False)

        modes = {
            "new csv": lambda: new.run(csvs),
            "new parquet": lambda: new.run(parquets),
            "old": lambda: old.run(csvs),
            "predict": lambda: model.predict(X),
            "csv parse": lambda: [pa_csv.read_csv(pa.py_buffer(b), read_options=read_opts, parse_options=parse_opts,
                                                  convert_options=convert) for b in bodies],
            "parquet read": lambda: [new._read(p, model) for p in parquets],
            "output": lambda: [new._lines(lead, ids, labels, proba, model.class_names)
                               for lead, ids, labels, proba in predicted],
            "loadtxt": lambda: [np.loadtxt(ls, delimiter=",", usecols=usecols, ndmin=2, comments=None)
                                for ls in lines],
        }
        order = list(modes)
        seconds: dict[str, list[float]] = {m: [] for m in modes}
        for repeat in range(args.repeat):
            for mode in order[repeat % len(order):] + order[:repeat % len(order)]:
                seconds[mode].append(cpu(modes[mode]))

    print(f"\n{'mode':<13} {'rows/s per core':>16} {'ns/row':>8}   (best of {args.repeat}, CPU time)")
    for mode, times in seconds.items():
        print(f"{mode:<13} {rows / min(times):>16,.0f} {min(times) / rows * 1e9:>8.0f}")
    parts = [min(seconds[m]) for m in ("parquet read", "predict", "output")]
    print(f"{'parts together':<13} {rows / sum(parts):>16,.0f} {sum(parts) / rows * 1e9:>8.0f}   "
          "(parquet read + predict + output: the most a Parquet run() could do)")

    def paired(a: str, b: str) -> str:
        ratios = [tb / ta for ta, tb in zip(seconds[a], seconds[b])]  # rate(a) / rate(b)
        return f"min {min(ratios):7.3f}x  median {statistics.median(ratios):7.3f}x"

    print("\npaired ratios of rows/s (each repeat's runs against each other):")
    print(f"  new parquet / old     {paired('new parquet', 'old')}   goal >= 10x")
    print(f"  new csv / old         {paired('new csv', 'old')}   goal >= 10x")
    print(f"  new parquet / predict {paired('new parquet', 'predict')}   (fraction of the model's raw predict rate)")
    print(f"  new csv / predict     {paired('new csv', 'predict')}")
    print(f"  parquet read / old    {paired('parquet read', 'old')}   (the most any Parquet scorer could gain)")
    print(f"  csv parse / old       {paired('csv parse', 'old')}   (the most any CSV scorer could gain)")
    print(f"  output / old          {paired('output', 'old')}   (the most any scorer returning one string "
          "per row could gain)")
    print(f"  loadtxt / old         {paired('loadtxt', 'old')}")


if __name__ == "__main__":
    main()
