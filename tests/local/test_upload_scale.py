"""Performance behaviour that must hold at any scale (speeds are in tests/benchmarks): a no-op
upload's run record does not grow with the file count, only changed files are hashed or copied,
the runner queues a mini-batch ahead per worker and streams a mini-batch's output in chunks."""

from __future__ import annotations

import os
import pickle
import types
from pathlib import Path

from engine import events as ev
from engine import paths, run
from engine.batch import BatchSettings, run_batch
from engine.batch import worker as batch_worker
from engine.batch.scheduling import _Job
from engine.context import PROGRESS_INTERVAL
from engine.profile import load
from tests.local.test_batchrun import write_script
from tests.support import Collector


def provision(profile_path: Path) -> tuple[Collector, list[str]]:
    """(events, lines of the run record) of one provision."""
    profile = load(str(profile_path))
    sink = Collector()
    assert run.provision(profile, sink).outcome == "succeeded", sink.finished()
    records = sorted(paths.runs_dir(profile.name).glob("*.jsonl"), key=lambda p: p.stat().st_mtime_ns)
    return sink, records[-1].read_text().splitlines()


def test_a_no_op_upload_record_is_the_same_size_at_100_and_at_1500_files(make_profile, tmp_path: Path,
                                                                          monkeypatch) -> None:
    """Nothing in the record grows with the file count; progress events are bounded by time (a few a
    second, first and last always), not by files, so a slow machine may add one or two."""
    sizes = {}
    for count in (100, 1500):
        monkeypatch.setenv("AMLBATCH_HOME", str(tmp_path / f"home-{count}"))  # one cloud each
        profile = make_profile(files=count)
        provision(profile)
        sink, lines = provision(profile)
        assert sink.outcomes()["upload"] == "exists"
        progress = [e for e in sink.of(ev.StepProgress) if e.step == "upload"]
        took = sink.finished()["upload"].duration
        assert len(progress) <= 2 + took / PROGRESS_INTERVAL, (len(progress), took)
        sizes[count] = sum(len(line) for line in lines if '"type": "step_progress"' not in line)
    assert abs(sizes[1500] - sizes[100]) < 64, sizes  # digits of the counts only


def test_only_changed_files_are_uploaded_and_a_touched_file_is_not(make_profile, tmp_path: Path) -> None:
    profile = make_profile(files=5)
    provision(profile)
    data = tmp_path / "data"
    os.utime(data / "part-1.csv", ns=(1, 1))  # same bytes, new time: hashed again, not uploaded
    (data / "part-3.csv").write_text("id,value\n3,7\n")  # same size, new bytes
    sink, _ = provision(profile)
    assert sink.finished()["upload"].detail.startswith("uploaded 1 file ("), sink.finished()["upload"]
    sink, _ = provision(profile)
    assert sink.outcomes()["upload"] == "exists"


class _Pipe:
    def __init__(self) -> None:
        self.sent: list = []

    def send_bytes(self, data: bytes) -> None:
        self.sent.append(pickle.loads(data))


def test_each_worker_gets_one_mini_batch_running_and_one_queued_ahead(tmp_path: Path) -> None:
    files = [tmp_path / f"f{i}.csv" for i in range(10)]
    job = _Job("j", files, tmp_path, "score.py", tmp_path, BatchSettings(mini_batch_size=1), tmp_path,
               tmp_path, lambda event: None, None, 2)
    workers = [types.SimpleNamespace(seq=i, state="idle", mb=-1, queued=[], conn=_Pipe(), deadline=0.0)
               for i in range(2)]
    job.output = types.SimpleNamespace(accept=lambda *args: None)
    job.workers = workers
    job.dispatch()
    assert [w.mb for w in workers] == [0, 1]  # spread first
    assert [w.queued for w in workers] == [[2], [3]]  # then one ahead each
    job.on_message(workers[0], ("done", 0, 1, 0, 0, None))
    assert workers[0].mb == 2 and workers[0].queued == []  # went straight on to the queued one
    job.dispatch()
    assert workers[0].queued == [4] and job.next_mb == 5


def test_a_mini_batch_output_is_written_in_chunks(tmp_path: Path, monkeypatch) -> None:
    count, rows = batch_worker._serialize([f"row-{i}" for i in range(25)], "append_row")
    monkeypatch.setattr(batch_worker, "CHUNK_ROWS", 10)
    count, chunks = batch_worker._serialize([f"row-{i}" for i in range(25)], "append_row")
    parts = list(chunks)
    assert count == 25 and len(parts) == 3
    assert b"".join(parts) == "".join(f"row-{i}\n" for i in range(25)).encode()

    scorer_dir = write_script(tmp_path / "s", "def init():\n    pass\n\n\ndef run(mini_batch):\n"
                                              "    return [f'{p},{i}' for p in mini_batch for i in range(25000)]\n")
    data = tmp_path / "in.csv"
    data.write_text("x\n")
    result = run_batch("j", [data], scorer_dir, "score.py", scorer_dir / "model", BatchSettings(),
                       tmp_path / "out", tmp_path / "logs", lambda event: None, max_workers=1)
    assert result.status == "Completed" and result.rows == 25000
    lines = result.output_file.read_text().splitlines()
    assert len(lines) == 25000 and lines[-1] == f"{data.resolve()},24999"
