"""Scoring runs on the local target, end to end: the README's main command, separate outputs per
run, listing, results, another input, no-wait, cancel and a job host that dies."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from engine import jobs, run
from engine.demo import demo_data_dir
from engine.errors import AmlBatchError
from engine.fileio import read_json
from engine.profile import load
from tui.cli import main


def demo_rows() -> dict[tuple[str, str], list[float]]:
    """Every input row of the demo data, keyed by (file name, id)."""
    rows = {}
    for path in sorted(demo_data_dir().glob("*.csv")):
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                rows[(path.name, row.pop("id"))] = row
    return rows


def test_main_command_scores_every_row_like_the_model_itself(capsys: pytest.CaptureFixture) -> None:
    assert main(["--profile", "demo", "--yes", "--submit"]) == 0
    out = capsys.readouterr().out
    assert "Completed: job" in out and "10,000 rows scored, 0 failed files" in out \
        and "first rows (file, row_id, label, probability):" in out

    profile = load("demo")
    [job] = jobs.list_jobs(profile)
    assert job.status == "Completed" and job.rows == 10_000
    predictions = Path(job.output) / "predictions.csv"
    lines = predictions.read_text().splitlines()
    inputs = demo_rows()
    assert len(lines) == len(inputs) == 10_000

    from scorer.train import train_model

    trained = train_model()
    names = trained.feature_names
    keys, features = [], []
    for line in lines:
        file_name, row_id, label, probability = line.split(",")
        keys.append((file_name, row_id, label, float(probability)))
        features.append([float(inputs[(file_name, row_id)][n]) for n in names])
    assert {(k[0], k[1]) for k in keys} == set(inputs)  # each row exactly once
    expected = trained.pipeline.predict_proba(np.array(features))[:, list(trained.class_names).index("malignant")]
    expected_labels = trained.pipeline.predict(np.array(features))
    assert np.allclose([k[3] for k in keys], expected, rtol=1e-9, atol=1e-12)
    assert [k[2] for k in keys] == [trained.class_names[i] for i in expected_labels]


def test_a_second_submit_makes_a_second_separate_output(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["--profile", "demo", "--yes", "--submit"]) == 0
    assert main(["--profile", "demo", "--yes", "--submit"]) == 0
    first, second = jobs.list_jobs(load("demo"))
    assert first.job_id != second.job_id and first.output != second.output
    assert (Path(first.output) / "predictions.csv").read_bytes() == (Path(second.output) / "predictions.csv").read_bytes()
    capsys.readouterr()

    assert main(["--profile", "demo", "--jobs"]) == 0
    listing = capsys.readouterr().out
    assert first.job_id in listing and second.job_id in listing and listing.count("Completed") == 2

    out = tmp_path / "copied"
    assert main(["--profile", "demo", "--results", first.job_id, "--out", str(out)]) == 0
    assert (out / "predictions.csv").read_bytes() == (Path(first.output) / "predictions.csv").read_bytes()
    (out / "predictions.csv").write_text("my own notes\n")
    assert main(["--profile", "demo", "--results", first.job_id, "--out", str(out)]) == 2
    assert "exists and differs" in capsys.readouterr().err
    assert (out / "predictions.csv").read_text() == "my own notes\n"


def test_submit_another_input_and_bad_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    assert main(["--profile", "demo", "--yes"]) == 0
    source = sorted(demo_data_dir().glob("*.csv"))[0]
    (extra / "good.csv").write_bytes(source.read_bytes())
    (extra / "broken.csv").write_text("id,nothing\n1,2\n")
    capsys.readouterr()
    assert main(["--profile", "demo", "--yes", "--submit", "--input", str(extra)]) == 0
    out = capsys.readouterr().out
    assert "500 rows scored, 1 failed file in" in out
    assert "failed: " in out and "broken.csv" in out
    [job] = jobs.list_jobs(load("demo"))
    assert job.input == str(extra) and job.failures == 1


def test_no_wait_returns_at_once_and_the_job_finishes_on_its_own(capsys: pytest.CaptureFixture) -> None:
    assert main(["--profile", "demo", "--yes", "--submit", "--no-wait"]) == 0
    assert "Submitted" in capsys.readouterr().out
    profile = load("demo")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        [job] = jobs.list_jobs(profile)
        if job.finished:
            break
        time.sleep(0.1)
    assert job.status == "Completed" and job.rows == 10_000


def slow_scorer(folder: Path) -> None:
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "m.txt").write_text("x")
    (folder / "environment.yml").write_text("name: slow\n")
    (folder / "score.py").write_text(
        "import time\n\ndef init():\n    pass\n\n"
        "def run(mini_batch):\n    time.sleep(0.5)\n    return [f'{p},ok' for p in mini_batch]\n")


def test_cancel_while_following_cancels_the_job(tmp_path: Path, make_profile) -> None:
    slow_scorer(tmp_path / "slow")
    path = make_profile(files=40)
    profile = load(str(path), ["scorer.folder=slow", "endpoint.mini_batch_size=1"])
    assert run.provision(profile, lambda e: None).outcome == "succeeded"
    cancel = run.CancelToken()
    seen = []

    def emit(event) -> None:
        seen.append(event)
        if event.type == "job_progress" and event.mini_batches_done >= 1:
            cancel.cancel()

    started = time.monotonic()
    job = jobs.submit(profile, emit, cancel)
    assert job.status == "Canceled"
    assert time.monotonic() - started < 15
    assert not (Path(job.output) / "predictions.csv").exists()
    assert seen[-1].type == "job_finished" and seen[-1].status == "Canceled"
    with pytest.raises(AmlBatchError, match="Canceled: results exist only for Completed runs"):
        jobs.results(profile, job.job_id, tmp_path / "out")


def test_a_job_whose_host_dies_is_reported_failed(tmp_path: Path, make_profile) -> None:
    slow_scorer(tmp_path / "slow")
    profile = load(str(make_profile(files=20)), ["scorer.folder=slow", "endpoint.mini_batch_size=1"])
    run.provision(profile, lambda e: None)
    job = jobs.submit(profile, lambda e: None, wait=False)
    from engine.targets.local.target import LocalTarget

    target = LocalTarget(profile, lambda e: None, run.CancelToken())
    host = psutil.Process(read_json(target.jobs_dir / job.job_id / "host.json")["pid"])
    time.sleep(0.5)
    for process in [host, *host.children(recursive=True)]:  # as a crash or reboot would
        process.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not jobs.get_job(profile, job.job_id).finished:
        time.sleep(0.1)
    failed = jobs.get_job(profile, job.job_id)
    assert failed.status == "Failed" and "exited unexpectedly" in failed.error


def test_submit_before_provisioning_says_what_to_do(make_profile) -> None:
    profile = load(str(make_profile()))
    with pytest.raises(AmlBatchError, match=r"has no default deployment yet: provision first \(amlbatch --profile test --yes\)"):
        jobs.submit(profile, lambda e: None)


def test_a_later_process_given_the_hosts_pid_is_not_taken_for_the_host() -> None:
    from engine.targets.local.jobs import _running

    me = psutil.Process()
    assert _running(me.pid, me.create_time())
    assert not _running(me.pid, me.create_time() - 60)  # same pid, another start: not our host
    assert not _running(me.pid, None)  # the host exited before its start time was read
