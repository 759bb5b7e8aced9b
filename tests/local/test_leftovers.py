"""Clean-up: temp files and parts left by a kill are removed by the profile's next run or job, and
no normal failure leaves any."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from engine import jobs, paths, run
from engine.profile import load


def _age(path: Path, seconds: float = 3600) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_temp_files_of_a_killed_provision_go_with_the_next_run(make_profile) -> None:
    profile = load(str(make_profile()))
    assert run.provision(profile, lambda e: None).outcome == "succeeded"
    state = paths.local_cloud_dir()
    record = next(state.rglob("compute*/*.json"), None) or next(state.rglob("*.json"))
    stale = record.parent / f".{record.name}.k7z2q9xa.tmp"  # as write_atomic leaves it when killed
    fresh = record.parent / f".{record.name}.m3n4b5vc.tmp"  # another process writing right now
    stale.write_text("{")
    fresh.write_text("{")
    _age(stale)
    hashes = paths.data_dir() / "hashes"
    hashes.mkdir(parents=True, exist_ok=True)
    (hashes / ".test.json.p0o9i8u7.tmp").write_text("{")
    _age(hashes / ".test.json.p0o9i8u7.tmp")

    assert run.provision(profile, lambda e: None).outcome == "succeeded"
    assert stale.exists()  # the last run ended cleanly: nothing is swept, nothing is walked

    killed = paths.runs_dir(profile.name) / f"{time.strftime('%Y%m%d-%H%M%S')}-provision-killed00.jsonl"
    killed.write_text(json.dumps({"type": "run_started", "action": "provision", "ts": time.time()}) + "\n")
    time.sleep(1.1)  # the next record is newer
    assert run.provision(profile, lambda e: None).outcome == "succeeded"
    assert not stale.exists() and not (hashes / ".test.json.p0o9i8u7.tmp").exists()
    assert fresh.exists()  # younger than a minute: maybe a live write of another process


def test_parts_of_a_killed_job_go_with_the_next_job_and_a_failed_job_leaves_none(make_profile) -> None:
    path = make_profile(files=2)
    (path.parent / "myscorer" / "score.py").write_text("def run(mini_batch):\n    raise ValueError('no')\n")
    profile = load(str(path), ["endpoint.max_retries=0", "endpoint.error_threshold=0"])
    run.provision(profile, lambda e: None)
    first = jobs.submit(profile, lambda e: None)
    assert first.status == "Failed"
    output = Path(first.output)
    assert not [p for p in output.iterdir() if p.name.startswith(".")]  # a normal failure leaves none

    parts = output / f".amlbatch-{first.job_id}.parts"  # as a kill -9 of the job host leaves them
    parts.mkdir()
    (parts / "part-1.txt").write_text("x\n")
    tmp = output / f".predictions.csv.{first.job_id}.tmp"
    tmp.write_text("x\n")
    jobs.submit(profile, lambda e: None)
    assert not parts.exists() and not tmp.exists()
