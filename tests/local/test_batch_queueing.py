"""engine.batch with many short mini-batches: once mini-batches are timed, each worker gets several
queued ahead in one message (never more than half its share of what is left), the parent takes
replies in batches, consecutive ranges of one part file are copied as one, and none of it changes
what a job gives: every row once, in input order, and a mini-batch that hangs among fast ones is
the one that times out."""

from __future__ import annotations

import os
import time
import types
from pathlib import Path

from engine.batch import BatchSettings
from engine.batch import output as batch_output
from engine.batch import scheduling
from engine.batch.output import _Output
from engine.batch.scheduling import MAX_AHEAD, _Job
from tests.local.test_batchrun import ECHO, Job, echo_files, echo_hanging_on, expected_echo, job, write_script  # noqa: F401
from tests.local.test_upload_scale import _Pipe

def fake_job(tmp_path: Path, files: int, workers: int = 2) -> _Job:
    paths = [tmp_path / f"f{i}.csv" for i in range(files)]
    job = _Job("j", paths, tmp_path, "score.py", tmp_path, BatchSettings(mini_batch_size=1), tmp_path,
               tmp_path, lambda event: None, None, workers)
    job.output = types.SimpleNamespace(accept=lambda *args: None)
    job.workers = [types.SimpleNamespace(seq=i, state="idle", mb=-1, queued=[], conn=_Pipe(), deadline=0.0)
                   for i in range(workers)]
    return job


def finish_running(job: _Job, worker) -> None:
    """The worker reports the mini-batch it runs as done (no rows)."""
    job.on_message(worker, ("done", worker.mb, 1, 0, 0, None))


def stop_the_clock(monkeypatch) -> None:
    """Each mini-batch takes no time at all, however loaded the machine running the test is."""
    monkeypatch.setattr(scheduling, "time", types.SimpleNamespace(monotonic=lambda: 1000.0))


def test_short_mini_batches_go_out_many_to_a_message_once_timed(tmp_path: Path, monkeypatch) -> None:
    stop_the_clock(monkeypatch)
    job = fake_job(tmp_path, 5000)
    a, b = job.workers
    job.dispatch()
    assert (a.mb, a.queued, b.mb, b.queued) == (0, [2], 1, [3])  # untimed: one queued ahead each
    for _ in range(2):
        for worker in (a, b):
            finish_running(job, worker)
    job.dispatch()
    assert len(a.queued) == len(b.queued) == MAX_AHEAD  # AHEAD seconds' worth, capped
    assert [len(message) for message in a.conn.sent] == [1, 1, 1, MAX_AHEAD]  # then many in one message
    assert a.conn.sent[-1] == [(mb, [os.path.abspath(tmp_path / f"f{mb}.csv")]) for mb in a.queued]
    sent = [mb for message in a.conn.sent + b.conn.sent for mb, _ in message]
    assert sorted(sent) == list(range(job.next_mb))  # each mini-batch sent once


def test_the_queue_shrinks_near_the_end_so_the_workers_finish_together(tmp_path: Path, monkeypatch) -> None:
    stop_the_clock(monkeypatch)
    job = fake_job(tmp_path, 40)
    a, b = job.workers
    job.dispatch()
    for _ in range(2):
        for worker in (a, b):
            finish_running(job, worker)
    job.dispatch()
    left = job.undispatched() + len(a.queued) + len(b.queued)
    assert 1 < len(a.queued) <= left // 4 and 1 < len(b.queued) <= left // 4  # half a worker's share


def test_a_mini_batch_that_took_long_keeps_one_queued_ahead(tmp_path: Path) -> None:
    job = fake_job(tmp_path, 100)
    a, b = job.workers
    job.dispatch()
    for _ in range(2):
        for worker in (a, b):
            worker.deadline -= 1.0  # each one ran a second
            finish_running(job, worker)
    job.dispatch()
    assert (len(a.queued), len(b.queued)) == (1, 1)


def test_consecutive_ranges_of_one_part_file_are_copied_as_one(tmp_path: Path, monkeypatch) -> None:
    output = _Output(tmp_path, "predictions.csv", "j", 6)
    output.parts_dir.mkdir()
    output.open()
    output.part_path(1).write_bytes(b"r0\nr1\nr2\nr4\n")
    output.part_path(2).write_bytes(b"r3\nr5\n")
    copies = []
    real_copy = batch_output._copy_range
    monkeypatch.setattr(batch_output, "_copy_range",
                        lambda src, dst, offset, count: (copies.append(count), real_copy(src, dst, offset, count)))
    output.accept(1, 1, 3, 6)
    output.append()
    assert copies == []  # it waits for mini-batch 0
    output.accept(0, 1, 0, 3)
    output.accept(2, 1, 6, 9)
    output.append()
    assert copies == [9]  # mini-batches 0-2 sit end to end in part 1: one copy
    output.accept(4, 1, 9, 12)
    output.accept(3, 2, 0, 3)  # another part between them: three ranges
    output.accept(5, 2, 3, 6)
    output.append()
    assert copies == [9, 3, 3, 3]
    status, _, out_file, _ = output.finish("Completed", "", lambda: None)
    output.cleanup()
    assert status == "Completed"
    assert out_file.read_bytes() == b"r0\nr1\nr2\nr3\nr4\nr5\n"


def test_many_one_file_mini_batches_give_every_row_once_in_order(job: Job, tmp_path: Path) -> None:
    folder = write_script(tmp_path / "s", ECHO)
    files = echo_files(tmp_path / "data", 400, rows=1)
    result = job(files, folder, BatchSettings(mini_batch_size=1, max_concurrency_per_instance=2), max_workers=2)
    assert result.status == "Completed" and result.mini_batches_done == 400
    assert job.output_lines() == expected_echo(files)


def test_a_mini_batch_that_hangs_among_fast_ones_is_the_one_that_times_out(job: Job, tmp_path: Path) -> None:
    """Workers have many mini-batches queued and the parent naps between batches of replies: the
    time-out still names the mini-batch that hung, the ones queued behind it are run by a new
    worker without counting as failed attempts, and no row is lost or doubled."""
    folder = write_script(tmp_path / "s", echo_hanging_on("f-300.csv"))
    files = echo_files(tmp_path / "data", 600, rows=1)
    started = time.monotonic()
    result = job(files, folder, BatchSettings(mini_batch_size=1, timeout=1.0, max_retries=0,
                                              max_concurrency_per_instance=2), max_workers=2)
    assert time.monotonic() - started < 20
    assert result.status == "Completed" and result.failed_files == 1
    assert [(Path(name).name, reason.split(" (")[0]) for name, reason in result.failures] == [
        ("f-300.csv", "timed out after 1 s")]
    assert job.output_lines() == expected_echo(files[:300] + files[301:])
