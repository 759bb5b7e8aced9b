"""Throughput and memory of the local batch runner (engine.batch) against a plain loop.

    uv run python -m tests.benchmarks.bench_local_runner [--files 1000] [--rows 2000] [--repeat 3]

Not collected by pytest (the file name does not start with test_). It makes `--files` distinct
sample files of `--rows` rows with scorer.sample_data in a temporary folder, plus three more names
(hard links) for each, so the large size scores every distinct file 4 times (the same work as 4N
distinct files once they are in the page cache, at a quarter of the generation time, which is not
timed anyway). Then, for N = `--files` and 4N files, it measures, each run in a fresh Python
process, the modes interleaved (a, b, c, a, b, c, ...) `--repeat` times:

  (a) loop     one process: import score.py (numpy included), init(), run() per mini-batch of
               `--mini-batch` files, rows written to an output file: the floor any runner pays
  (b) 1 wkr    engine.batch.run_batch with 1 worker, timed from the call to its return:
               worker start-up, init, scoring, predictions.csv assembled and renamed into place,
               workers stopped
  (c) N wkr    run_batch with one worker per core

It prints each mode's best run (rows/s, against the first mode's best run), the ratios of paired
runs (each repeat's run against the same repeat's first mode: min / median, so both runs of a pair
met the same background load), the runner's start-up (call -> first worker
ready), and peak memory: the measuring process's RSS high-water mark (VmHWM; getrusage's
ru_maxrss would report the benchmark parent's peak, Linux keeps it across execve), which for
(b)/(c) is the runner's parent and must not grow from N to 4N, and the largest worker's
(getrusage RUSAGE_CHILDREN). "CPU s" is the CPU time of the run's whole process tree (parent and
workers), "others" the share of the machine's CPUs other processes used meanwhile (from /proc/stat;
each run first waits up to --max-wait s for them to drop below 15%). Before measuring it prints how
well this machine scales pure-Python CPU work across its cores right now: on a shared VM that
ceiling moves, and (c)/(a) cannot beat it.

Then `--tiny` files of one row each at mini_batch_size 1 (the runner's per-mini-batch overhead):
(i) multiprocessing.Pool.imap with one process per core (chunksize 1; the parent writes the rows in
order), (a) the loop, (c) the runner with one worker per core; goal (c) >= (i), printed last as the
paired ratio (min / median). `--only sizes` or `--only tiny` runs one part.

Targets on a 2-core machine: (b)/(a) >= 0.9 and (c)/(a) >= 1.7. Fixed costs (worker start-up with
the numpy import, about 0.2 s) are paid once per job, so (c)/(a) needs a few seconds of work to
approach the ceiling: hence N = 1,000 files x 2,000 rows (2 M rows, ~4 s for the loop) by default.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def write_sample_files(*args, **kwargs):
    from scorer.sample_data import write_sample_files as write

    return write(*args, **kwargs)


def _busy_seconds() -> float:
    """CPU time all processes of this machine have used since boot (from /proc/stat), or 0."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class _Window:
    """Wall time, this process tree's CPU time and everybody else's CPU time over a window."""

    def __init__(self) -> None:
        self.t0, self.cpu0, self.busy0 = time.perf_counter(), time.process_time(), _busy_seconds()

    def close(self) -> dict:
        seconds = time.perf_counter() - self.t0
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = time.process_time() - self.cpu0 + children.ru_utime + children.ru_stime
        other = max(0.0, _busy_seconds() - self.busy0 - cpu) if self.busy0 else 0.0
        return {"seconds": seconds, "cpu": cpu, "other_load": other / seconds / (os.cpu_count() or 1)}


def _child_loop(files: list[Path], mini_batch: int, out_dir: Path) -> dict:
    import importlib.util

    window = _Window()
    scorer_dir = REPO / "scorer"
    os.environ["AZUREML_MODEL_DIR"] = str(scorer_dir / "model")
    sys.path.insert(0, str(scorer_dir))
    spec = importlib.util.spec_from_file_location("score", scorer_dir / "score.py")
    score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score)
    score.init()
    rows = 0
    with open(out_dir / "predictions.csv", "w", encoding="utf-8") as out:
        for i in range(0, len(files), mini_batch):
            result = score.run([str(p) for p in files[i:i + mini_batch]])
            rows += len(result)
            if result:
                out.write("\n".join(result) + "\n")
    return {**window.close(), "rows": rows}


_pool_score = None


def _pool_init(scorer_dir: str) -> None:
    import importlib.util

    global _pool_score
    os.environ["AZUREML_MODEL_DIR"] = str(Path(scorer_dir) / "model")
    sys.path.insert(0, scorer_dir)
    spec = importlib.util.spec_from_file_location("score", Path(scorer_dir) / "score.py")
    _pool_score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(_pool_score)
    _pool_score.init()


def _pool_run(batch: list[str]) -> list[str]:
    return _pool_score.run(batch)


def _child_imap(files: list[Path], mini_batch: int, out_dir: Path, workers: int) -> dict:
    """multiprocessing.Pool.imap over the mini-batches (chunksize 1), rows written in order by the
    parent: what a plain process pool gives, the runner's yardstick."""
    import multiprocessing

    window = _Window()
    batches = [[str(p) for p in files[i:i + mini_batch]] for i in range(0, len(files), mini_batch)]
    rows = 0
    with multiprocessing.Pool(workers, initializer=_pool_init, initargs=(str(REPO / "scorer"),)) as pool, \
            open(out_dir / "predictions.csv", "w", encoding="utf-8") as out:
        for result in pool.imap(_pool_run, batches):
            rows += len(result)
            if result:
                out.write("\n".join(result) + "\n")
    return {**window.close(), "rows": rows}


def _child_runner(files: list[Path], mini_batch: int, out_dir: Path, workers: int) -> dict:
    from engine.batch import BatchSettings, run_batch

    counts = {"events": 0, "startup": 0.0}

    def emit(event) -> None:
        counts["events"] += 1
        if getattr(event, "status", "") == "Running" and not counts["startup"]:
            counts["startup"] = time.perf_counter() - t0

    settings = BatchSettings(mini_batch_size=mini_batch, max_concurrency_per_instance=workers)
    window = _Window()
    t0 = window.t0
    result = run_batch("bench", files, REPO / "scorer", "score.py", REPO / "scorer" / "model", settings,
                       out_dir, out_dir / "logs", emit, max_workers=workers)
    report = window.close()
    if result.status != "Completed":
        raise SystemExit(f"runner job {result.status}: {result.error}")
    return {**report, "rows": result.rows, "events": counts["events"], "workers": result.workers,
            "startup": counts["startup"]}


def _peak_rss_mb() -> float:
    """This process's RSS high-water mark. Linux keeps getrusage's ru_maxrss across execve, so a
    child exec'd from a big parent would report the parent's peak: read VmHWM (reset by execve)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(args: argparse.Namespace) -> None:
    listed = (Path(args.data) / "files.txt").read_text().splitlines()
    files = [Path(line) for line in listed[:args.count]]
    out_dir = Path(args.out)
    if args.child == "loop":
        report = _child_loop(files, args.mini_batch, out_dir)
    elif args.child == "imap":
        report = _child_imap(files, args.mini_batch, out_dir, args.workers)
    else:
        report = _child_runner(files, args.mini_batch, out_dir, args.workers)
    report["rss_self_mb"] = _peak_rss_mb()
    report["rss_children_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(report))


def wait_quiet(max_wait: float, threshold: float = 0.15) -> None:
    """Wait (up to max_wait s) until other processes use less than `threshold` of the CPUs:
    on a shared machine a test run next door would decide the result."""
    if not _busy_seconds():
        return
    deadline = time.monotonic() + max_wait
    while True:
        before = _busy_seconds()
        time.sleep(0.5)
        load = (_busy_seconds() - before) / 0.5 / (os.cpu_count() or 1)
        if load < threshold or time.monotonic() > deadline:
            return


def measure(mode: str, data: Path, count: int, mini_batch: int, workers: int, scratch: Path,
            max_wait: float) -> dict:
    wait_quiet(max_wait)
    out = scratch / f"out-{mode}-{count}-{time.monotonic_ns()}"
    out.mkdir()
    cmd = [sys.executable, "-m", "tests.benchmarks.bench_local_runner", "--child", mode,
           "--data", str(data), "--count", str(count), "--mini-batch", str(mini_batch),
           "--workers", str(workers), "--out", str(out)]
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{mode} failed:\n{proc.stdout}\n{proc.stderr}")
        return json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(out, ignore_errors=True)


_SPIN = ("import time\nt = time.perf_counter()\nx = 0\nfor i in range(3_000_000): x += i * i\n"
         "print(time.perf_counter() - t)")


def cpu_check(cores: int) -> float:
    """Pure-Python CPU scaling of this machine right now: `cores` spinning processes at once vs
    one alone (best of 3). Near `cores` on a quiet machine; lower when the host is busy."""
    def spin(n: int) -> float:
        procs = [subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.PIPE, text=True)
                 for _ in range(n)]
        return max(float(p.communicate()[0]) for p in procs)

    one = min(spin(1) for _ in range(3))
    many = min(spin(cores) for _ in range(3))
    return cores * one / many


def make_data(folder: Path, files: int, rows: int) -> list[Path]:
    """`files` distinct sample files, plus 3 more names (hard links, or copies) for each: the 4N
    set scores every distinct file 4 times, which costs exactly what 4N distinct files cost once
    they are in the page cache, and is 4 times quicker to generate."""
    distinct = write_sample_files(folder, files=files, rows_per_file=rows, seed=0)
    paths = list(distinct)
    for copy in range(1, 4):
        for path in distinct:
            twin = folder / f"{path.stem}-{copy}.csv"
            try:
                os.link(path, twin)
            except OSError:
                shutil.copyfile(path, twin)
            paths.append(twin)
    (folder / "files.txt").write_text("".join(f"{p}\n" for p in paths))
    return paths


def bytecode_note() -> str:
    off = bool(os.environ.get("PYTHONDONTWRITEBYTECODE")) or sys.dont_write_bytecode
    return "bytecode: " + ("not written (PYTHONDONTWRITEBYTECODE set)" if off else "compiled and cached")


def table(modes: tuple, data: Path, count: int, mini_batch: int, args: argparse.Namespace, scratch: Path
          ) -> dict[str, list[dict]]:
    """Run the modes interleaved `args.repeat` times; print each mode's best run and the ratios of
    paired runs against the first mode. Returns every run, by mode label, in repeat order."""
    print(f"{'files':>6} {'rows':>9}  {'mode':<10} {'seconds':>8} {'rows/s':>10} {'best/1st':>8} "
          f"{'paired min/median':>18} {'start-up':>9} {'CPU s':>6} {'others':>7} {'parent MB':>10} {'worker MB':>10}")
    runs: dict[str, list[dict]] = {label: [] for _, _, label in modes}
    for _ in range(args.repeat):
        for mode, workers, label in modes:
            runs[label].append(measure(mode, data, count, mini_batch, workers, scratch, args.max_wait))
    first = modes[0][2]
    base = None
    for mode, workers, label in modes:
        best = min(runs[label], key=lambda r: r["seconds"])
        rate = best["rows"] / best["seconds"]
        base = base or rate
        ratios = [a["seconds"] / r["seconds"] for a, r in zip(runs[first], runs[label])]
        pair = f"{min(ratios):.2f}x / {statistics.median(ratios):.2f}x"
        parent = max(r["rss_self_mb"] for r in runs[label])
        worker = f"{max(r['rss_children_mb'] for r in runs[label]):.0f}" if mode != "loop" else "-"
        startup = f"{best['startup']:.2f} s" if mode == "runner" else "-"
        print(f"{count:>6} {best['rows']:>9}  {label:<10} {best['seconds']:>8.2f} {rate:>10.0f} "
              f"{rate / base:>7.2f}x {pair:>18} {startup:>9} {best['cpu']:>6.2f} {best['other_load']:>6.0%} "
              f"{parent:>10.0f} {worker:>10}", flush=True)
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="files of the small size (N); large is 4N")
    parser.add_argument("--rows", type=int, default=2000, help="rows per file")
    parser.add_argument("--mini-batch", type=int, default=10, help="mini_batch_size (files per run())")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs per mode")
    parser.add_argument("--tiny", type=int, default=10000, help="tiny files for the Pool.imap comparison (0: skip)")
    parser.add_argument("--only", choices=["sizes", "tiny"],
                        help="run only the N/4N tables (sizes) or only the tiny-file comparison (tiny)")
    parser.add_argument("--max-wait", type=float, default=30.0,
                        help="seconds to wait for other processes to calm down before each run")
    parser.add_argument("--child", choices=["loop", "imap", "runner"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args)
        return 0

    sys.path.insert(0, str(REPO))
    from engine.batch import usable_cores

    cores = usable_cores()
    with tempfile.TemporaryDirectory(prefix="amlbatch-bench-runner-") as tmp:
        scratch = Path(tmp)
        data = scratch / "data"
        if args.only != "tiny":
            t0 = time.perf_counter()
            paths = make_data(data, args.files, args.rows)
            size = sum(p.stat().st_size for p in paths)
            print(f"data: {args.files} distinct files x {args.rows} rows, 4 names each ({size / 1e6:.0f} MB "
                  f"as {len(paths)} files), made in {time.perf_counter() - t0:.1f} s (not timed)")
        if args.tiny and args.only != "sizes":
            tiny = scratch / "tiny"
            write_sample_files(tiny, files=args.tiny, rows_per_file=1, seed=0)
            (tiny / "files.txt").write_text("".join(f"{p}\n" for p in sorted(tiny.glob("*.csv"))))
        if hasattr(os, "sync"):
            os.sync()  # no write-back of the generated data during the measurements
        print(f"machine: {cores} cores; CPU scaling of {cores} spinning processes now: "
              f"{cpu_check(cores):.2f}x (the ceiling for (c)/(a))")
        print(f"best of {args.repeat} runs per cell, modes interleaved, each run in a fresh process; "
              f"paired: each repeat's run against the same repeat's first mode (min / median); {bytecode_note()}")
        modes = (("loop", 1, "(a) loop"), ("runner", 1, "(b) 1 wkr"), ("runner", cores, f"(c) {cores} wkr"))
        if args.only != "tiny":
            print(f"\nmini_batch_size {args.mini_batch}")
            for count in (args.files, 4 * args.files):
                table(modes, data, count, args.mini_batch, args, scratch)
        if args.tiny and args.only != "sizes":
            print(f"\n{args.tiny} tiny files (1 row each), mini_batch_size 1: the runner against "
                  "multiprocessing.Pool.imap with as many processes (goal: (c) >= (i))")
            modes = (("imap", cores, f"(i) imap {cores}"), ("loop", 1, "(a) loop"), ("runner", cores, f"(c) {cores} wkr"))
            runs = table(modes, tiny, args.tiny, 1, args, scratch)
            ratios = [i["seconds"] / c["seconds"] for i, c in zip(runs[modes[0][2]], runs[modes[2][2]])]
            print(f"runner / Pool.imap, paired runs: min {min(ratios):.2f}x  median "
                  f"{statistics.median(ratios):.2f}x  (goal >= 1x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
