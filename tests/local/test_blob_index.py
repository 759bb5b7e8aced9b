"""The local input container keeps one index of its blobs (size, MD5, times and owner), not one
metadata file per blob; ownership decisions read it, and containers written with per-blob meta/
records by earlier versions keep their owners."""

from __future__ import annotations

import json
from pathlib import Path

from engine import paths, run
from engine.profile import load
from engine.targets.local.blobindex import BlobIndex
from tests.engine.test_engine import GUEST_TABLES, Collector, provision


def input_container() -> Path:
    return next(paths.local_cloud_dir().rglob("containers/amlbatch-input"))


def test_an_upload_writes_one_index_with_each_blobs_owner(make_profile) -> None:
    profile = load(str(make_profile(files=4)))
    provision(profile)
    container = input_container()
    assert not (container / "meta").exists()
    lines = (container / "index.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["owners"][0]["amlbatch-profile-id"] == profile.id
    assert len(json.loads(lines[0])["owners"]) == 1
    assert sorted(json.loads(line)[0] for line in lines[1:]) == [f"data/part-{i}.csv" for i in range(4)]
    index = BlobIndex(container)
    assert index.found("data/part-1.csv")[0] == len("id,value\n1,2\n")
    (container / "blobs" / "data" / "part-1.csv").write_text("cut")  # no longer the blob it describes
    assert index.found("data/part-1.csv") is None
    assert provision(profile).finished()["upload"].detail.startswith("uploaded 1 file (")


def test_teardown_deletes_only_this_profiles_blobs_and_keeps_the_others_in_the_index(make_profile) -> None:
    owner = load(str(make_profile(name="owner")))
    provision(owner)
    container = input_container()
    index = BlobIndex(container)
    (container / "blobs" / "other.csv").write_text("x\n")
    index.put("other.csv", 2, "0" * 32, 0, 0, {"amlbatch-profile": "someone", "amlbatch-profile-id": "f" * 32})
    index.save()
    sink = Collector()
    run.teardown(owner, sink)
    assert "holds resources this profile did not make" in sink.finished()["containers"].detail
    assert "(blobs/other.csv of " in sink.finished()["containers"].detail
    assert sink.outcomes()["upload"] == "deleted"
    assert sorted(p.name for p in (container / "blobs").rglob("*") if p.is_file()) == ["other.csv"]
    assert list(BlobIndex(container).blobs) == ["other.csv"]


def test_per_blob_records_of_an_earlier_version_keep_their_owner(make_profile, tmp_path: Path) -> None:
    owner = load(str(make_profile(name="owner")))
    provision(owner)
    container = input_container()
    index = BlobIndex(container)
    (container / "index.jsonl").unlink()  # as an earlier version left it: meta/<blob>.json per blob
    for blob, tags in index.owned():
        size, md5 = index.found(blob)
        meta = container / "meta" / f"{blob}.json"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"size": size, "content_md5": md5, "tags": tags}))
    guest = load(str(make_profile(name="guest", extra=GUEST_TABLES)))  # same container and prefix
    (tmp_path / "data" / "part-0.csv").write_text("id,value\n0,9\n")
    sink = Collector()
    run.provision(guest, sink, only={"resource_group", "workspace", "compute", "access", "containers", "upload"})
    assert "belongs to profile 'owner'" in sink.finished()["upload"].error
    (tmp_path / "data" / "part-0.csv").write_text("id,value\n0,0\n")
    assert provision(owner).outcomes()["upload"] == "exists"  # unchanged, read from meta/
    (tmp_path / "data" / "part-2.csv").write_text("id,value\n2,5\n")
    assert provision(owner).outcomes()["upload"] == "created"
    assert not (container / "meta").exists()  # folded into the index by the upload
    assert all(tags["amlbatch-profile-id"] == owner.id for _, tags in BlobIndex(container).owned())
