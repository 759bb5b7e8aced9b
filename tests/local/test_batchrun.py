"""engine.batch: the local runner with Azure batch-deployment semantics, with real worker
processes and real scoring scripts (written into tmp_path), no mocks. What happens when scripts or
files fail is in test_batch_failures.py, which uses the helpers here."""

from __future__ import annotations

import csv
import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import scorer
from engine import events as ev
from engine.batch import BatchResult, BatchSettings, run_batch, usable_cores
from scorer.sample_data import write_sample_files

ECHO = """
import os

def init():
    pass

def run(mini_batch):
    out = []
    for path in mini_batch:
        with open(path) as handle:
            lines = handle.read().splitlines()[1:]
        out.extend(f"{os.path.basename(path)},{line}" for line in lines)
    return out
"""


def echo_hanging_on(name: str) -> str:
    """ECHO, except that a mini-batch with the file `name` hangs for a minute."""
    return ECHO + f"""
import time

_echo = run

def run(mini_batch):
    if any(p.endswith("{name}") for p in mini_batch):
        time.sleep(60)
    return _echo(mini_batch)
"""


def write_script(folder: Path, source: str, name: str = "score.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(source))
    (folder / "model").mkdir(exist_ok=True)
    return folder


def echo_files(folder: Path, count: int, rows: int = 3, prefix: str = "f") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"{prefix}-{i:02d}.csv"
        path.write_text("id,value\n" + "".join(f"{i}-{r},{i * 100 + r}\n" for r in range(rows)))
        paths.append(path)
    return paths


def expected_echo(paths: list[Path]) -> list[str]:
    return [f"{p.name},{line}" for p in paths for line in p.read_text().splitlines()[1:]]


class Job:
    """Runs run_batch in tmp_path and keeps the events."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.events: list[ev.Event] = []
        self.out = tmp_path / "out"
        self.logs = tmp_path / "logs"

    def __call__(self, files, scorer_dir, settings=None, model_dir=None, **kwargs) -> BatchResult:
        settings = settings or BatchSettings()
        model_dir = model_dir or Path(scorer_dir) / "model"
        result = run_batch("job-1", files, Path(scorer_dir), "score.py", model_dir, settings, self.out,
                           self.logs, self.events.append, **kwargs)
        self.check_events(result)
        return result

    def check_events(self, result: BatchResult) -> None:
        finished = [e for e in self.events if isinstance(e, ev.JobFinished)]
        assert len(finished) == 1 and self.events[-1] is finished[0]
        assert finished[0].status == result.status and finished[0].rows == result.rows
        assert finished[0].failures == result.failed_files
        statuses = [e.status for e in self.events if isinstance(e, ev.JobStatus)]
        assert statuses[0] == "Starting" and statuses[-1] == result.status
        progress = [e for e in self.events if isinstance(e, ev.JobProgress)]
        assert progress, "a final JobProgress is always sent"
        last = progress[-1]
        assert (last.mini_batches_done, last.files_done, last.rows, last.failures) == (
            result.mini_batches_done, result.files_done, result.rows, result.failed_files)
        assert last.files_total == result.files_total and last.mini_batches_total == result.mini_batches_total
        for event in self.events:  # every event serialises
            assert ev.from_dict(event.to_dict()) == event
        assert not multiprocessing.active_children(), "no worker process outlives the job"
        hidden = [p.name for p in self.out.iterdir() if p.name.startswith(".")] if self.out.exists() else []
        assert not hidden, f"temporary files left: {hidden}"

    def logs_text(self) -> str:
        return " | ".join(e.message for e in self.events if isinstance(e, ev.JobLog))

    def output_lines(self) -> list[str]:
        return (self.out / "predictions.csv").read_text().splitlines()


@pytest.fixture
def job(tmp_path: Path) -> Job:
    return Job(tmp_path)


# ------------------------------------------------------------------------------ the real scorer


def model_output(path: Path) -> list[tuple[str, str, str, float]]:
    """The demo model's prediction for each row of a sample file, computed here with numpy
    straight from model.npz (independent of score.py's code)."""
    with np.load(scorer.MODEL_DIR / "model.npz", allow_pickle=False) as m:
        mean, scale, coef, intercept = m["mean"], m["scale"], m["coef"], m["intercept"]
    with open(path) as handle:
        rows = list(csv.reader(handle))
    data = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    decision = ((data - mean) / scale) @ coef[:, 0] + intercept[0]
    p_malignant = 1.0 - 1.0 / (1.0 + np.exp(-decision))
    labels = np.where(decision > 0, "benign", "malignant")
    return [(path.name, row[0], str(lab), float(p)) for row, lab, p in zip(rows[1:], labels, p_malignant)]


def test_predictions_one_row_per_input_row_in_input_order(job: Job, tmp_path: Path) -> None:
    files = write_sample_files(tmp_path / "data", files=7, rows_per_file=40, seed=3)
    settings = BatchSettings(mini_batch_size=3, max_concurrency_per_instance=2)
    result = job(files, scorer.SCORER_DIR, settings, model_dir=scorer.MODEL_DIR, max_workers=2)

    assert result.status == "Completed", result.error
    assert (result.rows, result.failed_files, result.files_total, result.files_done) == (280, 0, 7, 7)
    assert (result.mini_batches_total, result.mini_batches_done, result.workers) == (3, 3, 2)
    assert result.output_file == job.out / "predictions.csv"
    lines = job.output_lines()
    assert len(lines) == 280
    expected = [row for path in files for row in model_output(path)]
    for line, (name, row_id, label, prob) in zip(lines, expected):
        got_name, got_id, got_label, got_prob = line.split(",")
        assert (got_name, got_id, got_label) == (name, row_id, label)
        assert float(got_prob) == pytest.approx(prob, abs=1e-9)
    overview = (job.logs / "overview.txt").read_text()
    assert "job Completed: 280 rows" in overview
    assert (job.logs / "worker-1.txt").exists() and (job.logs / "worker-2.txt").exists()
    assert "loaded standard_scaler+logistic_regression" in (job.logs / "worker-1.txt").read_text()


def test_summary_only_counts_results_and_the_script_writes_its_own_files(job: Job, tmp_path: Path) -> None:
    files = write_sample_files(tmp_path / "data", files=4, rows_per_file=6)
    bad = tmp_path / "data" / "empty.csv"
    bad.write_text("")
    settings = BatchSettings(output_action="summary_only", mini_batch_size=2)
    result = job([*files, bad], scorer.SCORER_DIR, settings, model_dir=scorer.MODEL_DIR)

    assert result.status == "Completed"
    assert result.rows == 4 and result.failed_files == 1 and result.output_file is None
    assert not (job.out / "predictions.csv").exists()
    written = sorted(p.name for p in job.out.glob("*.predictions.csv"))
    assert written == [f"{p.stem}.predictions.csv" for p in files]
    assert len((job.out / written[0]).read_text().splitlines()) == 7  # header + 6 rows


# ------------------------------------------------------------------------------- test scripts


def test_cancel_from_another_thread_stops_promptly_and_leaves_no_output(job: Job, tmp_path: Path) -> None:
    folder = write_script(tmp_path / "s", ECHO + """
import time

_echo = run

def run(mini_batch):
    time.sleep(0.2)
    return _echo(mini_batch)
""")
    files = echo_files(tmp_path / "data", 60)
    cancel = threading.Event()
    first_progress = threading.Event()

    def emit(event: ev.Event) -> None:
        job.events.append(event)
        if isinstance(event, ev.JobProgress) and event.mini_batches_done:
            first_progress.set()

    canceled_at = []

    def canceller() -> None:
        first_progress.wait(20)
        canceled_at.append(time.monotonic())
        cancel.set()

    thread = threading.Thread(target=canceller)
    thread.start()
    result = run_batch("job-1", files, folder, "score.py", folder / "model",
                       BatchSettings(mini_batch_size=1, max_concurrency_per_instance=2),
                       job.out, job.logs, emit, cancel)
    returned = time.monotonic()
    thread.join()
    job.check_events(result)

    assert result.status == "Canceled"
    assert returned - canceled_at[0] < 2.0
    assert 0 < result.mini_batches_done < 60
    assert not (job.out / "predictions.csv").exists()
    assert not (job.out / "predictions.csv.partial").exists()
    assert "Canceled" in (job.logs / "overview.txt").read_text()


def test_cancel_token_with_canceled_attribute_is_honoured(job: Job, tmp_path: Path) -> None:
    class Token:
        canceled = True

    folder = write_script(tmp_path / "s", ECHO)
    result = job(echo_files(tmp_path / "data", 3), folder, cancel=Token())
    assert result.status == "Canceled" and not (job.out / "predictions.csv").exists()


def test_workers_are_capped_at_the_cores_and_at_max_workers(job: Job, tmp_path: Path) -> None:
    folder = write_script(tmp_path / "s", ECHO)
    files = echo_files(tmp_path / "data", 12)
    settings = BatchSettings(mini_batch_size=1, instance_count=2, max_concurrency_per_instance=40)
    result = job(files, folder, settings)
    assert result.status == "Completed"
    assert result.workers == min(usable_cores(), 12)
    assert "80 worker processes requested" in job.logs_text()
    assert f"the {usable_cores()} cores of this machine" in job.logs_text()
    assert job.output_lines() == expected_echo(files)

    other = Job(tmp_path / "second")
    result = other(files, folder, settings, max_workers=1)
    assert result.workers == 1 and "capped by max_workers" in other.logs_text()
    assert not list(other.logs.glob("worker-2.txt"))


def test_progress_events_are_throttled_but_the_last_one_is_complete(job: Job, tmp_path: Path) -> None:
    folder = write_script(tmp_path / "s", ECHO)
    files = echo_files(tmp_path / "data", 150, rows=1)
    result = job(files, folder, BatchSettings(mini_batch_size=1))
    progress = [e for e in job.events if isinstance(e, ev.JobProgress)]
    assert result.status == "Completed" and result.rows == 150
    assert len(progress) <= result.duration * 10 + 3
    assert progress[-1].mini_batches_done == 150


def test_no_input_files_completes_with_an_empty_output(job: Job, tmp_path: Path) -> None:
    folder = write_script(tmp_path / "s", ECHO)
    result = job([], folder)
    assert result.status == "Completed" and result.rows == 0
    assert (job.out / "predictions.csv").read_text() == ""


def test_script_output_and_logging_go_to_the_worker_log(job: Job, tmp_path: Path) -> None:
    folder = write_script(tmp_path / "s", """
        import logging, os, sys

        def init():
            print("hello from init")
            assert os.environ["AZUREML_MODEL_DIR"].endswith("model")

        def run(mini_batch):
            print("stdout line", len(mini_batch))
            print("stderr line", file=sys.stderr)
            logging.getLogger("user").warning("watch out: %s", os.path.basename(mini_batch[0]))
            logging.getLogger("user").debug("hidden at info level")
            return [os.environ["AMLBATCH_OUTPUT_ACTION"]] * len(mini_batch)
    """)
    result = job(echo_files(tmp_path / "data", 2), folder, BatchSettings(mini_batch_size=2))
    assert result.status == "Completed"
    text = (job.logs / "worker-1.txt").read_text()
    for needle in ("hello from init", "stdout line 2", "stderr line", "WARNING user: watch out: f-00.csv"):
        assert needle in text
    assert "hidden at info level" not in text
    warnings = [e for e in job.events if isinstance(e, ev.JobLog) and e.source == "worker-1"]
    assert [e.message for e in warnings] == ["watch out: f-00.csv"] and warnings[0].level == "warning"
    assert job.output_lines() == ["append_row", "append_row"]


def test_invalid_settings_raise_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mini_batch_size"):
        run_batch("j", [], tmp_path, "score.py", tmp_path, BatchSettings(mini_batch_size=0),
                  tmp_path / "o", tmp_path / "l", lambda e: None)
    with pytest.raises(ValueError, match="output_action"):
        run_batch("j", [], tmp_path, "score.py", tmp_path, BatchSettings(output_action="append"),
                  tmp_path / "o", tmp_path / "l", lambda e: None)
    assert not (tmp_path / "o").exists()


def test_settings_from_the_profile_endpoint_section() -> None:
    from engine.profile import Endpoint, Profile

    endpoint = Endpoint(mini_batch_size=5, max_retries=1, timeout=12, output_action="summary_only")
    settings = BatchSettings.from_profile(Profile("p", endpoint=endpoint))
    assert (settings.mini_batch_size, settings.max_retries, settings.timeout, settings.output_action) == (
        5, 1, 12, "summary_only")
    settings.validate()


def test_workers_do_not_rerun_the_callers_main_module_or_write_to_its_terminal(tmp_path: Path) -> None:
    """spawn re-imports the parent's __main__ in each child; a script without a main guard (or
    the TUI's entry point) must not run again, and worker output must not reach the terminal."""
    folder = write_script(tmp_path / "s", ECHO.replace("    pass", "    print('init says hi')"))
    files = [str(p) for p in echo_files(tmp_path / "data", 3)]
    caller = tmp_path / "caller.py"
    caller.write_text(textwrap.dedent(f"""
        from pathlib import Path
        from engine.batch import BatchSettings, run_batch

        print("caller ran")
        folder = Path({str(folder)!r})
        result = run_batch("j", [Path(p) for p in {files!r}], folder, "score.py", folder / "model",
                           BatchSettings(mini_batch_size=1, max_concurrency_per_instance=2),
                           Path({str(tmp_path / "out")!r}), Path({str(tmp_path / "logs")!r}),
                           lambda event: None, max_workers=2)
        print(result.status, result.rows)
    """))
    proc = subprocess.run([sys.executable, str(caller)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["caller ran", "Completed 9"]
    assert proc.stderr == ""
    assert "init says hi" in (tmp_path / "logs" / "worker-1.txt").read_text()


@pytest.mark.parametrize("kernel_copy", [True, False])
def test_output_ranges_are_copied_exactly_with_and_without_sendfile(tmp_path: Path, monkeypatch,
                                                                    kernel_copy: bool) -> None:
    from engine.batch.output import _copy_range, _write_at

    if not kernel_copy:
        monkeypatch.delattr(os, "sendfile", raising=False)
    data = bytes(range(256)) * 5000  # 1.28 MB: more than one buffer
    src = os.open(tmp_path / "part", os.O_RDWR | os.O_CREAT)
    dst = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT)
    try:
        assert _write_at(src, data, 0) == len(data)
        _copy_range(src, dst, 1000, 1_100_000)
        _copy_range(src, dst, 0, 10)
        with pytest.raises(OSError, match="ends before"):
            _copy_range(src, dst, len(data) - 5, 10)
    finally:
        os.close(src)
        os.close(dst)
    assert (tmp_path / "out").read_bytes()[:1_100_010] == data[1000:1_101_000] + data[:10]
