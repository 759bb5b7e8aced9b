"""The upload step counts its files in words that agree with the number: "uploaded 1 file"."""

from __future__ import annotations

from pathlib import Path

from engine import run
from engine.profile import load
from engine.words import counted, plural
from tests.support import Collector


def test_plural_and_counted() -> None:
    assert plural(1, "file") == "file" and plural(0, "file") == "files" and plural(2, "file") == "files"
    assert plural(2, "mini-batch", "mini-batches") == "mini-batches"
    assert counted(1, "uploaded blob") == "1 uploaded blob"
    assert counted(1500, "file") == "1,500 files"


def test_one_uploaded_file_is_one_file(make_profile, amlbatch_home: Path) -> None:
    sink = Collector()
    assert run.provision(load(str(make_profile(files=1))), sink).outcome == "succeeded"
    assert sink.finished()["upload"].detail.startswith("uploaded 1 file ("), sink.finished()["upload"]


def test_two_uploaded_files_are_files(make_profile, amlbatch_home: Path) -> None:
    sink = Collector()
    assert run.provision(load(str(make_profile(files=2))), sink).outcome == "succeeded"
    assert sink.finished()["upload"].detail.startswith("uploaded 2 files ("), sink.finished()["upload"]
