"""Job outcomes tell the truth: a run that scored no row while files failed is a failure to the user
(exit 1), partial failures are a warning with the count, "and N more" and the worker log with the
first traceback; every error names the exception type and the mini-batch; rows written equal rows
counted."""

from __future__ import annotations

import re
from pathlib import Path

from engine.jobinfo import JobInfo
from engine.jobs import failure_lines, headline, outcome
from tui.cli import main

MIXED = '''
import os


def run(mini_batch):
    name = os.path.basename(mini_batch[0])
    n = int(name.split("-")[1].split(".")[0])
    if n == 0:
        raise MemoryError()
    if n == 1:
        return 5
    if n == 2:
        return ["a,first line\\nsecond line"]
    if n <= 10:
        raise RuntimeError("boom " + name)
    return [name + ",ok"]
'''


def _submit(path: Path, capfd) -> tuple[int, str]:
    code = main(["--profile", str(path), "--yes", "--submit"])
    out, err = capfd.readouterr()
    return code, out + err


def test_partial_failures_warn_with_the_count_and_the_log(make_profile, capfd) -> None:
    path = make_profile(files=14, extra="[endpoint]\nmini_batch_size = 1\nmax_retries = 0\n")
    (path.parent / "myscorer" / "score.py").write_text(MIXED)
    code, out = _submit(path, capfd)
    assert code == 0, out
    assert re.search(r"^Completed with failures: job \S+: 11 files failed$", out, re.M), out
    assert "3 rows scored, 11 failed files" in out
    assert len(re.findall(r"^  failed: ", out, re.M)) == 10 and "  and 1 more failed file\n" in out
    assert "MemoryError (no message) (mini-batch 1; see " in out
    assert "TypeError: run() returned int; it must return a list (or a pandas DataFrame) (mini-batch 2;" in out
    assert "ValueError: run() returned a row with a line break (row 1: 'a,first line\\nsecond line')" in out
    log = re.search(r"^  first traceback in (\S+worker-\d+\.txt)$", out, re.M)
    assert log and "MemoryError" in Path(log.group(1)).read_text()
    results = re.search(r"^  results: (.+)$", out, re.M).group(1)
    written = (Path(results) / "predictions.csv").read_text().splitlines()
    assert sorted(written) == [f"part-{n}.csv,ok" for n in (11, 12, 13)]  # 3 rows counted, 3 written


def test_a_run_that_scored_no_row_while_files_failed_is_failed(make_profile, capfd) -> None:
    path = make_profile(files=2, extra="[endpoint]\nmax_retries = 0\n")
    (path.parent / "myscorer" / "score.py").write_text("def run(mini_batch):\n    raise ValueError('bad')\n")
    code, out = _submit(path, capfd)
    assert code == 1, out
    assert re.search(r"^Failed: job \S+ scored no row: 2 files failed", out, re.M), out
    assert "ValueError: bad (mini-batch 1; see " in out
    code = main(["--profile", str(path), "--jobs"])
    listed = capfd.readouterr().out
    assert code == 0 and re.search(r"\sFailed\s+\S+ \S+\s+0\s+2\s", listed), listed


def test_outcome_rules() -> None:
    def job(status: str, rows: int, failures: int) -> JobInfo:
        failed = [[f"f{i}", f"E: x (mini-batch {i + 1}; see /logs/worker-1.txt)"] for i in range(min(failures, 30))]
        return JobInfo("j", status, 0.0, rows=rows, failures=failures, failed_files=failed)

    assert outcome(job("Completed", 0, 3)) == "failed"
    assert outcome(job("Completed", 5, 3)) == "partial"
    assert outcome(job("Completed", 5, 0)) == outcome(job("Completed", 0, 0)) == "completed"
    assert outcome(job("Failed", 5, 0)) == "failed" and outcome(job("Canceled", 0, 0)) == "canceled"
    assert outcome(job("Running", 0, 0)) == "running"
    lines = failure_lines(job("Completed", 1, 1500))  # 1500 failed, 30 kept in the job
    assert len(lines) == 12 and lines[10] == "and 1,490 more failed files"
    assert lines[11] == "first traceback in /logs/worker-1.txt"
    assert headline(job("Completed", 1, 2)) == "Completed with failures: job j: 2 files failed"


def test_init_has_its_own_timeout_field(make_profile, capfd) -> None:
    import time

    path = make_profile(files=1, extra="[endpoint]\nmax_retries = 0\ninit_timeout = 1\ntimeout = 600\n")
    (path.parent / "myscorer" / "score.py").write_text(
        "import time\n\ndef init():\n    time.sleep(60)\n\ndef run(mini_batch):\n    return mini_batch\n")
    started = time.monotonic()
    code, out = _submit(path, capfd)
    assert code == 1 and time.monotonic() - started < 30, out
    assert "init did not finish within 1 s" in out
