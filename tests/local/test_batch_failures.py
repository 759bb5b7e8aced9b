"""engine.batch when things go wrong: bad input files and error_threshold, scoring scripts whose
init() or run() raises, hangs or kills its worker, and an output file that already exists. Real
worker processes and real scoring scripts (written into tmp_path), no mocks; the helpers are
test_batchrun's."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

import scorer
from engine.batch import BatchSettings
from scorer.sample_data import write_sample_files
from tests.local.test_batchrun import ECHO, Job, echo_files, echo_hanging_on, expected_echo, write_script


@pytest.fixture
def job(tmp_path: Path) -> Job:
    return Job(tmp_path)


# ------------------------------------------------------------------------------ the real scorer


def test_bad_file_is_reported_by_name_and_job_completes_with_threshold_minus_1(job: Job, tmp_path) -> None:
    files = write_sample_files(tmp_path / "data", files=3, rows_per_file=10)
    bad = tmp_path / "data" / "broken.csv"
    bad.write_text("id,mean radius\n1,2.0\n")
    result = job([files[0], bad, *files[1:]], scorer.SCORER_DIR, BatchSettings(mini_batch_size=2),
                 model_dir=scorer.MODEL_DIR)

    assert result.status == "Completed"
    assert result.rows == 30 and result.failed_files == 1
    assert result.failures == [(str(bad), "missing column(s): mean texture, mean perimeter, mean area "
                                          "(and 26 more)")]
    assert len(job.output_lines()) == 30
    assert "broken.csv" in job.logs_text()
    assert "broken.csv" in (job.logs / "overview.txt").read_text()



def test_bad_file_over_error_threshold_fails_the_job_and_keeps_partial_rows(job: Job, tmp_path: Path) -> None:
    files = write_sample_files(tmp_path / "data", files=3, rows_per_file=10)
    bad = tmp_path / "data" / "zz-bad.csv"
    bad.write_text(files[0].read_text().replace("\n0,", "\n0,oops,", 1))
    settings = BatchSettings(mini_batch_size=1, error_threshold=0)
    result = job([*files, bad], scorer.SCORER_DIR, settings, model_dir=scorer.MODEL_DIR)

    assert result.status == "Failed"
    assert "error_threshold 0" in result.error and "zz-bad.csv" in result.error
    assert result.failed_files == 1 and result.failures[0][0] == str(bad)
    assert not (job.out / "predictions.csv").exists()
    assert result.output_file is None and result.partial_file == job.out / "predictions.csv.partial"
    assert len(result.partial_file.read_text().splitlines()) == 30  # the 3 good files' rows



def test_error_threshold_counts_files_not_events(job: Job, tmp_path: Path) -> None:
    files = write_sample_files(tmp_path / "data", files=2, rows_per_file=5)
    bads = []
    for i in range(2):
        bads.append(tmp_path / "data" / f"bad-{i}.csv")
        bads[-1].write_text("nothing useful\n")
    result = job([*bads, *files], scorer.SCORER_DIR, BatchSettings(error_threshold=2),
                 model_dir=scorer.MODEL_DIR)
    assert result.status == "Completed" and result.failed_files == 2 and result.rows == 10


# ------------------------------------------------------------------------------- test scripts


def test_init_that_raises_fails_the_job_with_its_message_after_retries(job: Job, tmp_path: Path) -> None:
    folder = write_script(tmp_path / "s", """
        def init():
            raise RuntimeError("no model in this folder")

        def run(mini_batch):
            return mini_batch
    """)
    result = job(echo_files(tmp_path / "data", 3), folder, BatchSettings(max_retries=1))

    assert result.status == "Failed"
    assert result.error == "init() failed: RuntimeError: no model in this folder"
    assert result.rows == 0 and result.output_file is None and result.partial_file is None
    assert not (job.out / "predictions.csv").exists()
    assert "init failed (2 of 2 allowed)" in (job.logs / "overview.txt").read_text()
    assert "no model in this folder" in (job.logs / "worker-1.txt").read_text()  # the traceback
    assert (job.logs / "worker-2.txt").exists()  # the retry ran in a fresh process



def test_script_that_cannot_be_imported_fails_like_init(job: Job, tmp_path: Path) -> None:
    folder = write_script(tmp_path / "s", "def init(:\n")
    result = job(echo_files(tmp_path / "data", 1), folder, BatchSettings(max_retries=0))
    assert result.status == "Failed" and result.error.startswith("init() failed: SyntaxError")



@pytest.mark.parametrize("crash, described", [
    ("os._exit(3)", "exited with code 3"),
    pytest.param("os.kill(os.getpid(), signal.SIGSEGV)", "SIGSEGV", id="signal",
                 marks=pytest.mark.skipif(sys.platform == "win32", reason="Windows has no death by signal")),
])
def test_worker_that_dies_is_replaced_and_every_row_arrives_exactly_once(
        job: Job, tmp_path: Path, crash: str, described: str) -> None:
    marker = tmp_path / "crashed-once"
    folder = write_script(tmp_path / "s", ECHO + f"""
import signal

_echo = run

def run(mini_batch):
    out = _echo(mini_batch)
    if any(p.endswith("f-03.csv") for p in mini_batch) and not os.path.exists({str(marker)!r}):
        open({str(marker)!r}, "w").close()
        {crash}
    return out
""")
    files = echo_files(tmp_path / "data", 8, rows=4)
    result = job(files, folder, BatchSettings(mini_batch_size=2))

    assert result.status == "Completed", result.error
    assert marker.exists()
    assert result.rows == 32 and result.failed_files == 0
    assert job.output_lines() == expected_echo(files)  # in order, none missing, none twice
    assert described in job.logs_text() and "retrying" in job.logs_text()
    assert (job.logs / "worker-2.txt").exists()



def test_mini_batch_that_times_out_is_retried_then_failed_without_hanging(job: Job, tmp_path: Path) -> None:
    folder = write_script(tmp_path / "s", echo_hanging_on("f-01.csv"))
    files = echo_files(tmp_path / "data", 4)
    started = time.monotonic()
    result = job(files, folder, BatchSettings(mini_batch_size=1, timeout=0.8, max_retries=1))
    elapsed = time.monotonic() - started

    assert result.status == "Completed"
    assert elapsed < 10
    log = job.logs / "worker-2.txt"
    assert result.failures == [(str(files[1]), f"timed out after 0.8 s (mini-batch 2; see {log})")]
    assert job.output_lines() == expected_echo([files[0], files[2], files[3]])
    assert "attempt 1 of 2 failed: timed out" in job.logs_text()



def test_run_that_raises_is_retried_then_its_files_fail(job: Job, tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    folder = write_script(tmp_path / "s", ECHO + f"""
_echo = run

def run(mini_batch):
    if any(p.endswith("f-00.csv") for p in mini_batch):
        with open({str(counter)!r}, "a") as handle:
            handle.write("x")
        raise ValueError("cannot score this")
    return _echo(mini_batch)
""")
    files = echo_files(tmp_path / "data", 3)
    result = job(files, folder, BatchSettings(mini_batch_size=2, max_retries=2))

    assert result.status == "Completed"
    assert counter.read_text() == "xxx"  # 1 + max_retries attempts
    reason = "ValueError: cannot score this (mini-batch 1; see {})"  # the type, the mini-batch, the log
    logs = [line for line in result.failures[0][1].split("see ")[1:]]
    assert logs and logs[0].rstrip(")").startswith(str(job.logs / "worker-"))
    assert result.failures == [(str(files[0]), reason.format(logs[0].rstrip(")"))),
                               (str(files[1]), reason.format(logs[0].rstrip(")")))]
    assert result.failed_files == 2 and job.output_lines() == expected_echo(files[2:])



def test_fewer_results_than_files_count_as_failures_for_scripts_without_pop_failures(
        job: Job, tmp_path: Path) -> None:
    folder = write_script(tmp_path / "s", """
        def init():
            pass

        def run(mini_batch):
            return [p for p in mini_batch if not p.endswith("f-02.csv")]
    """)
    files = echo_files(tmp_path / "data", 5)
    result = job(files, folder, BatchSettings(mini_batch_size=5))

    assert result.status == "Completed" and result.rows == 4 and result.failed_files == 1
    assert "run() returned 4 results for 5 files" in result.failures[0][1]
    assert "f-00.csv" in result.failures[0][0]



def test_existing_output_file_is_never_overwritten(job: Job, tmp_path: Path) -> None:
    folder = write_script(tmp_path / "s", ECHO)
    job.out.mkdir()
    (job.out / "predictions.csv").write_text("earlier results\n")
    result = job(echo_files(tmp_path / "data", 2), folder)
    assert result.status == "Failed" and "already exists" in result.error
    assert (job.out / "predictions.csv").read_text() == "earlier results\n"

