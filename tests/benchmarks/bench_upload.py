"""Uploads at scale: the local target against `cp -r`, and the azure upload over Azurite with
latency against a one-after-another loop of the same SDK calls.

    uv run python -m tests.benchmarks.bench_upload [--files 20000] [--big 50000] [--repeat 3]
        [--azure-files 300] [--latency 0.02]

Not collected by pytest. Modes are interleaved and paired: each repeat runs every mode once, one
after another, and the ratios are taken within a repeat (min and median over the repeats), so a
busy moment of the machine weighs on both sides of a ratio.

Local (each engine run in a fresh process with its own AMLBATCH_HOME; timed around
engine.run.provision of a local profile whose data.files is one folder of small files):
  cp      `cp -r` of the data folder to a fresh folder
  first   provision into an empty home: every file copied and hashed
  no-op   provision again: nothing changed, nothing copied
It prints the peak memory (VmHWM) of the engine process and the size of the no-op's run record, at
`--files` and at `--big` files, and at 100 files for comparison.

Azure (needs AZURITE_BIN; each call delayed `--latency` s by an azure-core policy passed as a
client option, the storage SDK's documented `raw_request_hook`):
  loop    upload_blob per file, one after another (same arguments as the engine)
  engine  Session.upload_files, the azure upload step's apply
and the check's listing: the requests it makes for `--azure-files` blobs (one per 5,000).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROFILE = 'schema = 1\ntarget = "local"\n\n[data]\nfiles = ["{data}"]\n\n[scorer]\nfolder = "{scorer}"\n'


def bytecode_note() -> str:
    off = bool(os.environ.get("PYTHONDONTWRITEBYTECODE")) or sys.dont_write_bytecode
    return "bytecode: " + ("not written (PYTHONDONTWRITEBYTECODE set)" if off else "compiled and cached")


def paired(ratios: list[float]) -> str:
    return f"min {min(ratios):.2f}x  median {statistics.median(ratios):.2f}x"


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------- local

def child_local(profile_path: str) -> None:
    """In a fresh process: provision the profile, print seconds, peak MB, record bytes."""
    sys.path.insert(0, str(REPO))
    from engine import events as ev
    from engine import paths, run
    from engine.profile import load

    profile = load(profile_path)
    steps: dict[str, float] = {}

    def emit(event) -> None:
        if isinstance(event, ev.StepFinished):
            steps[event.step] = event.duration

    start = time.perf_counter()
    summary = run.provision(profile, emit)
    seconds = time.perf_counter() - start
    records = sorted(paths.runs_dir(profile.name).glob("*.jsonl"), key=lambda p: p.stat().st_mtime_ns)
    print(json.dumps({"seconds": seconds, "outcome": summary.outcome, "upload": steps.get("upload", 0.0),
                      "rss_mb": _peak_rss_mb(), "record": records[-1].stat().st_size if records else 0}))


def engine_run(profile: Path, home: Path) -> dict:
    env = {**os.environ, "AMLBATCH_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_upload", "--child", str(profile)],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"engine run failed:\n{proc.stdout}\n{proc.stderr}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    if report["outcome"] != "succeeded":
        raise SystemExit(f"provision {report['outcome']}")
    return report


def cp_run(data: Path, dest: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["cp", "-r", str(data), str(dest)], check=True)
    return time.perf_counter() - start


def make_folder(root: Path, files: int) -> tuple[Path, Path]:
    """`files` small CSV files (100 per sub-folder) and a local profile naming their folder."""
    from tests.support import write_scorer

    data = root / f"data-{files}"
    for i in range(files):
        sub = data / f"d{i // 100:04d}"
        if i % 100 == 0:
            sub.mkdir(parents=True)
        (sub / f"f{i:06d}.csv").write_text(f"id,value\n{i},{i * 2}\n")
    scorer = write_scorer(root / "scorer")
    profile = root / f"up{files}.toml"
    profile.write_text(PROFILE.format(data=data.as_posix(), scorer=scorer.as_posix()))
    return data, profile


def bench_local(root: Path, files: int, big: int, repeat: int) -> None:
    print(f"\nlocal upload: {files} files of ~20 bytes, {repeat} paired repeats (cp, first, cp, no-op)")
    data, profile = make_folder(root, files)
    firsts, noops, cps, rows = [], [], [], []
    for r in range(repeat):
        home = root / f"home-{files}-{r}"
        cp1 = cp_run(data, root / f"cp-{r}-a")
        first = engine_run(profile, home)
        cp2 = cp_run(data, root / f"cp-{r}-b")
        noop = engine_run(profile, home)
        firsts.append(first["seconds"] / cp1)
        noops.append(noop["seconds"] / cp2)
        cps += [cp1, cp2]
        rows.append((cp1, first, cp2, noop))
        for folder in (root / f"cp-{r}-a", root / f"cp-{r}-b"):
            shutil.rmtree(folder)
        if r < repeat - 1:
            shutil.rmtree(home)
    print(f"{'repeat':>6} {'cp s':>7} {'first s':>8} {'(upload)':>9} {'cp s':>7} {'no-op s':>8} {'(upload)':>9} "
          f"{'first/cp':>9} {'no-op/cp':>9} {'peak MB':>8} {'record B':>9}")
    for r, (cp1, first, cp2, noop) in enumerate(rows):
        print(f"{r + 1:>6} {cp1:>7.3f} {first['seconds']:>8.3f} {first['upload']:>9.3f} {cp2:>7.3f} "
              f"{noop['seconds']:>8.3f} {noop['upload']:>9.3f} {first['seconds'] / cp1:>8.2f}x "
              f"{noop['seconds'] / cp2:>8.2f}x {max(first['rss_mb'], noop['rss_mb']):>8.0f} {noop['record']:>9}")
    print(f"first run / cp -r: {paired(firsts)}   (goal <= 3x)")
    print(f"no-op re-run / cp -r: {paired(noops)}   (goal <= 1x)")
    shutil.rmtree(data)

    print(f"\nmemory and run record by file count (first run, then no-op; fresh process each)")
    print(f"{'files':>7} {'first s':>8} {'no-op s':>8} {'peak MB':>8} {'no-op record B':>15}")
    for count in (100, files, big):
        data, profile = make_folder(root, count)
        home = root / f"home-scale-{count}"
        first = engine_run(profile, home)
        noop = engine_run(profile, home)
        print(f"{count:>7} {first['seconds']:>8.3f} {noop['seconds']:>8.3f} "
              f"{max(first['rss_mb'], noop['rss_mb']):>8.0f} {noop['record']:>15}", flush=True)
        shutil.rmtree(home)
        shutil.rmtree(data)


# ---------------------------------------------------------------------------------------- azure

def start_azurite(folder: Path):
    """Azurite on a free port with a self-signed certificate, as the tests' fixture starts it."""
    from tests import azurite as az

    folder.mkdir()
    cert, key = az._self_signed(folder)
    port = az._free_port()
    binary = az.find_binary()
    args = [binary, "--blobHost", "127.0.0.1", "--blobPort", str(port)]
    if os.path.basename(binary) == "azurite":
        args += ["--queuePort", str(az._free_port()), "--tablePort", str(az._free_port())]
    args += ["--inMemoryPersistence", "--skipApiVersionCheck", "--cert", str(cert), "--key", str(key), "--silent"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder)
    url = f"https://127.0.0.1:{port}/{az.ACCOUNT}"
    az._wait_until_up(url, str(cert), process)
    return az.Azurite(url=url, ca_file=str(cert)), process


def bench_azure(root: Path, files: int, latency: float, repeat: int) -> None:
    from azure.storage.blob import BlobServiceClient, ContentSettings

    from engine.targets.azure._blob import META_MD5, META_PROFILE

    class Latency:
        """Every request waits `latency` s before it is sent: a stand-in for Azure's round trip.
        Passed as the storage clients' documented `raw_request_hook` option."""
        calls = 0

        def __call__(self, request) -> None:
            Latency.calls += 1
            time.sleep(latency)

    server, process = start_azurite(root / "azurite")
    try:
        options = {"raw_request_hook": Latency()}
        data = root / "azure-data"
        data.mkdir()
        for i in range(files):
            (data / f"f{i:05d}.csv").write_text(f"id,value\n{i},{i * 2}\n")
        items = [(p, f"in/{p.name}", p.stat().st_size) for p in sorted(data.iterdir())]
        direct = BlobServiceClient(server.url, credential=server.key, connection_verify=server.ca_file,
                                   **options)
        print(f"\nazure upload over Azurite: {files} small files, {latency * 1000:.0f} ms added per call, "
              f"{repeat} paired repeats (loop, engine)")
        from engine.datafiles import file_md5
        from engine.targets.azure.session import Session

        class Profile:  # the one field upload_files reads
            name = "bench"

        session = Session(Profile(), lambda event: None, credential=server.key, blob_endpoint=server.url,
                          blob_verify=server.ca_file, blob_options=options)
        ratios = []
        print(f"{'repeat':>6} {'loop s':>8} {'engine s':>9} {'loop/engine':>12}")
        for r in range(repeat):
            container = f"loop{r}"
            direct.create_container(container)
            start = time.perf_counter()
            for path, name, size in items:
                md5 = file_md5(path)
                with open(path, "rb") as handle:
                    direct.get_blob_client(container, name).upload_blob(
                        handle, length=size, overwrite=True, metadata={META_MD5: md5, META_PROFILE: "bench"},
                        content_settings=ContentSettings(content_md5=bytearray.fromhex(md5)))
            loop = time.perf_counter() - start
            container = f"engine{r}"
            direct.create_container(container)

            class Never:
                canceled = False
            start = time.perf_counter()
            session.upload_files(server.account, container, items, Never(), lambda done, total: None)
            engine = time.perf_counter() - start
            ratios.append(loop / engine)
            print(f"{r + 1:>6} {loop:>8.2f} {engine:>9.2f} {loop / engine:>11.2f}x", flush=True)
        print(f"engine speed-up over the loop: {paired(ratios)}   (goal >= 8x)")
        Latency.calls = 0
        listed = list(direct.get_container_client("engine0").list_blobs(include=["metadata"]))
        with_md5 = sum(1 for b in listed if b.content_settings.content_md5)
        print(f"check's listing: {len(listed)} blobs ({with_md5} with Content-MD5) in {Latency.calls} "
              f"request(s) (one per 5,000 blobs); no request per file")
    finally:
        process.terminate()
        process.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--big", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--azure-files", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--only", choices=["local", "azure"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_local(args.child)
        return 0
    sys.path.insert(0, str(REPO))
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; {bytecode_note()}")
    with tempfile.TemporaryDirectory(prefix="amlbatch-bench-upload-") as tmp:
        if args.only != "azure":
            bench_local(Path(tmp), args.files, args.big, args.repeat)
        if args.only != "local":
            if os.environ.get("AZURITE_BIN") or shutil.which("azurite"):
                bench_azure(Path(tmp), args.azure_files, args.latency, args.repeat)
            else:
                print("\nazure upload: skipped (set AZURITE_BIN to Azurite's executable)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
