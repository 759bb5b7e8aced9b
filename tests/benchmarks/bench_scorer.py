"""The demo scorer's rows/s per core against the model's raw predict rate and the CSV parse ceiling.

    uv run python -m tests.benchmarks.bench_scorer [--files 50] [--rows 2000] [--repeat 9]

Not collected by pytest. One process, one thread of Python work, CPU time (time.process_time, so a
busy shared machine slows the wall clock but not these figures much). It writes `--files` sample
files of `--rows` rows, reads them once into the page cache, then in every repeat runs these modes
back to back (interleaved; the order rotates each repeat), each over the same files:

  new       scorer/score.py run() on all the files: read, parse, predict, one output row per input row
  old       tests/benchmarks/score_baseline.py run(): the scorer before pyarrow (np.loadtxt, kept
            here only as the baseline)
  predict   the model's predict on the same rows already in memory (a float64 array): the ceiling
            of any scorer
  parse     pyarrow.csv.read_csv of the same bytes already in memory, one thread, typed columns,
            no quoting, no null markers: the fastest CSV parse found (the ceiling of CSV input)
  loadtxt   np.loadtxt of the same lines (the old scorer's parse alone)

It prints rows/s per core for each mode (best of the repeats) and the ratios of paired runs (each
repeat's new against that repeat's old, predict and parse; min and median).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

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
          f"pyarrow {pa.__version__}; {bytecode_note()}")
    with tempfile.TemporaryDirectory(prefix="amlbatch-bench-scorer-") as tmp:
        paths = [str(p) for p in write_sample_files(Path(tmp), files=args.files, rows_per_file=args.rows, seed=0)]
        raw = [Path(p).read_bytes() for p in paths]
        header = raw[0].split(b"\n", 1)[0].decode().split(",")
        rows = args.files * args.rows
        print(f"data: {args.files} files x {args.rows} rows, {sum(map(len, raw)) / rows:.0f} bytes/row")
        assert new.run(paths) == old.run(paths), "the new scorer's output differs from the old one's"
        usecols = [header.index(n) for n in model.feature_names]
        X = np.concatenate([new._read(p, model)[1] for p in paths])
        bodies = [b.split(b"\n", 1)[1] for b in raw]
        lines = [b.decode().splitlines() for b in bodies]
        names = [f"c{i}" for i in range(len(header))]
        types = {names[i]: pa.float64() for i in usecols}
        types[names[0]] = pa.string()
        read = pa_csv.ReadOptions(use_threads=False, column_names=names, block_size=1 << 26)
        parse = pa_csv.ParseOptions(quote_char=False)
        convert = pa_csv.ConvertOptions(column_types=types, null_values=[], strings_can_be_null=False)

        modes = {
            "new": lambda: new.run(paths),
            "old": lambda: old.run(paths),
            "predict": lambda: model.predict(X),
            "parse": lambda: [pa_csv.read_csv(pa.py_buffer(b), read_options=read, parse_options=parse,
                                              convert_options=convert) for b in bodies],
            "loadtxt": lambda: [np.loadtxt(ls, delimiter=",", usecols=usecols, ndmin=2, comments=None)
                                for ls in lines],
        }
        order = list(modes)
        seconds: dict[str, list[float]] = {m: [] for m in modes}
        for repeat in range(args.repeat):
            for mode in order[repeat % len(order):] + order[:repeat % len(order)]:
                seconds[mode].append(cpu(modes[mode]))

    print(f"\n{'mode':<9} {'rows/s per core':>16}   (best of {args.repeat}, CPU time)")
    for mode, times in seconds.items():
        print(f"{mode:<9} {rows / min(times):>16,.0f}")

    def paired(a: str, b: str) -> str:
        ratios = [tb / ta for ta, tb in zip(seconds[a], seconds[b])]  # rate(a) / rate(b)
        return f"min {min(ratios):7.3f}x  median {statistics.median(ratios):7.3f}x"

    print("\npaired ratios of rows/s (each repeat's runs against each other):")
    print(f"  new / old       {paired('new', 'old')}   goal >= 10x")
    print(f"  new / predict   {paired('new', 'predict')}   (fraction of the model's raw predict rate)")
    print(f"  new / parse     {paired('new', 'parse')}   (fraction of the CSV parse ceiling)")
    print(f"  parse / old     {paired('parse', 'old')}   (the most any CSV scorer could gain over the old one)")
    print(f"  loadtxt / old   {paired('loadtxt', 'old')}")


if __name__ == "__main__":
    main()
