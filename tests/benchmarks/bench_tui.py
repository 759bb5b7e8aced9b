"""Start-up and log throughput of the Textual app.

    uv run python -m tests.benchmarks.bench_tui [--repeat 5] [--flood-seconds 3]

Not collected by pytest. Two measurements:

1. Start-up, each run a fresh process on a pseudo-terminal (80x24), the real driver, the wizard
   side by side with a bare Textual app (Header, Static, Footer): time until the first screen's
   text reaches the terminal (the first paint, read off the pty), to the refresh after Textual's
   Ready event (the app writes a timestamp and exits then when AMLBATCH_TUI_BENCH_EXIT names a
   file: used only here) and to process exit; also `python -c pass` and `python -c "import
   azure.ai.ml"` (what the app must not pay at start-up). Median of --repeat, runs interleaved,
   ratios of paired runs; whether bytecode was written, and how many of the app's own modules had
   up-to-date cached bytecode (an edited one is compiled on every start when it is not written).

2. Log flood, in process (headless): a thread emits StepLog events as fast as it can for
   --flood-seconds into the run screen's EventBuffer (the engine's emit path). Reported: lines
   emitted and lines the screen absorbed per second (applied to the step history and the Log
   widget in batches), lines dropped by the bounded buffer, how late a 50 ms app timer fires and how
   long a message posted from another thread (as a key press is) waits to be handled during the
   flood, the latency of real key presses (Pilot), and the memory bound: Log lines, per-step history,
   buffer pending, RSS growth.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------- start-up

def run_on_pty(argv: list[str], env: dict[str, str], mark: Path | None = None,
               shown: bytes = b"") -> tuple[float, float | None, float | None]:
    """(seconds to exit, seconds to the mark file's timestamp, seconds until `shown` was written to
    the terminal) of argv on an 80x24 pty."""
    import fcntl
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    start_wall = time.time()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
                            close_fds=True)
    os.close(slave)
    seen, output = None, b""
    while proc.poll() is None:  # drain the terminal so the app never blocks writing
        ready, _, _ = select.select([master], [], [], 0.005)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if shown and seen is None:
                output += chunk
                if shown in output:
                    seen = time.perf_counter() - start
    proc.wait()
    total = time.perf_counter() - start
    os.close(master)
    first = None
    if mark is not None and mark.exists():
        first = float(mark.read_text().strip()) - start_wall
        mark.unlink()
    return total, first, seen


def bench_startup(repeat: int) -> None:
    home = tempfile.mkdtemp(prefix="amlbatch-bench-")
    env = {**os.environ, "AMLBATCH_HOME": home, "TERM": "xterm-256color"}
    mark = Path(home) / "first-paint"
    app_env = {**env, "AMLBATCH_TUI_BENCH_EXIT": str(mark)}
    py = sys.executable
    # The first paint: when the first screen's own text reached the terminal. Both apps exit after
    # the refresh that follows Textual's Ready event, writing the time (the "ready" figure).
    bare = ("import os, time\nfrom textual.app import App\nfrom textual.widgets import Footer, Header, Static\n"
            "class Bare(App):\n    def compose(self):\n        yield Header(); yield Static('hello'); yield Footer()\n"
            "    def on_ready(self):\n        self.call_after_refresh(self.done)\n"
            "    def done(self):\n        open(os.environ['AMLBATCH_TUI_BENCH_EXIT'], 'w').write(f'{time.time():.6f}')\n"
            "        self.exit()\nBare().run()\n")
    cases = {
        "python -c pass": ([py, "-c", "pass"], env, None, b""),
        "bare Textual app (first screen)": ([py, "-c", bare], app_env, mark, b"hello"),
        "python -c 'import azure.ai.ml'": ([py, "-c", "import azure.ai.ml"], env, None, b""),
        "amlbatch app (first screen)": ([py, "-c", "from tui.app import run_app; run_app()"], app_env, mark,
                                        b"Try the local demo"),
    }
    totals: dict[str, list[float]] = {k: [] for k in cases}
    readies: dict[str, list[float]] = {}
    shown: dict[str, list[float]] = {}
    for name, (argv, e, m, text) in cases.items():  # warm the page cache once
        run_on_pty(argv, e, m, text)
    for _ in range(repeat):
        for name, (argv, e, m, text) in cases.items():
            total, ready, seen = run_on_pty(argv, e, m, text)
            totals[name].append(total)
            if ready is not None:
                readies.setdefault(name, []).append(ready)
            if seen is not None:
                shown.setdefault(name, []).append(seen)
    print(f"Start-up on an 80x24 pty, median of {repeat} (warm):")
    for name, values in totals.items():
        print(f"  {name:<34} {statistics.median(values) * 1000:7.0f} ms to exit")
    for name, values in readies.items():
        label = name.replace("(first screen)", "ready")
        print(f"  {label:<34} {statistics.median(values) * 1000:7.0f} ms after spawn (refresh after Ready)")
    for name, values in shown.items():
        label = name.replace("(first screen)", "painted")
        print(f"  {label:<34} {statistics.median(values) * 1000:7.0f} ms after spawn (its text on the terminal)")
    for what, runs in (("first paint", shown), ("ready", readies)):
        bare_runs, app_runs = runs.get("bare Textual app (first screen)", []), runs.get("amlbatch app (first screen)", [])
        ratios = [a / b for a, b in zip(app_runs, bare_runs)]  # same repeat: run back to back
        if ratios and len(app_runs) == len(bare_runs) == repeat:
            print(f"  {what}, amlbatch / bare (paired, min / median): {min(ratios):.2f}x / "
                  f"{statistics.median(ratios):.2f}x (goal <= 1.2x)")
    off = bool(os.environ.get("PYTHONDONTWRITEBYTECODE")) or sys.dont_write_bytecode
    print("  bytecode: " + ("not written (PYTHONDONTWRITEBYTECODE set)" if off else "compiled and cached"))
    # PYTHONDONTWRITEBYTECODE only stops writing: a module whose cached bytecode is up to date is
    # still read from it, an edited one is compiled on every start. Say which it was for our code.
    code = ("import os, sys, importlib.util, tui.app\n"
            "print(len(sys.modules), sum(1 for m in sys.modules if m.startswith('azure')), 'engine.run' in sys.modules)\n"
            "import tui.screens.start\n"
            "ours = [f for f in (getattr(m, '__file__', None) or '' for m in list(sys.modules.values()))\n"
            "        if f.startswith(os.getcwd()) and '.venv' not in f and f.endswith('.py')]\n"
            "def fresh(src):\n    pyc = importlib.util.cache_from_source(src)\n"
            "    return os.path.exists(pyc) and os.path.getmtime(pyc) >= os.path.getmtime(src)\n"
            "print(sum(map(fresh, ours)), len(ours))")
    out = subprocess.run([py, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env).stdout.split()
    print(f"  the app's own modules at start-up: {out[3]} of {out[4]} with up-to-date cached bytecode")
    print(f"  modules after `import tui.app`: {out[0]} (azure: {out[1]}, engine.run loaded: {out[2]})")


# ------------------------------------------------------------------------------- log flood

def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def flood(seconds: float) -> None:
    from textual.message import Message

    from engine import events as ev
    from engine.run import RunSummary
    from tui.app import AmlBatchApp
    from tui.screens import run as run_screen
    from tui.screens.run import LOG_LINES, RunScreen

    emitted = [0]
    done = threading.Event()

    def runner(profile, emit, cancel):
        emit(ev.RunStarted("bench", profile.name, "local", "provision", ("upload", "compute"),
                           ("Data upload", "Compute cluster")))
        emit(ev.StepStarted("upload", "Data upload"))
        emit(ev.StepStarted("compute", "Compute cluster"))
        end = time.perf_counter() + seconds
        n = 0
        message = "uploaded blob data/part-{:07d}.csv (1.2 MB) in 0.03 s, md5 ok"
        while time.perf_counter() < end:
            for _ in range(200):
                emit(ev.StepLog("upload" if n % 4 else "compute", message.format(n)))
                n += 1
        emitted[0] = n
        emit(ev.StepFinished("upload", "created", seconds, "done"))
        emit(ev.StepFinished("compute", "created", seconds, "done"))
        emit(ev.RunFinished("bench", "succeeded", seconds, {"created": 2}))
        done.set()
        return RunSummary("bench", "provision", "succeeded", seconds, {"created": 2}, {})

    class Ping(Message):
        def __init__(self, sent: float) -> None:
            super().__init__()
            self.sent = sent

    from textual import events
    from textual.binding import Binding

    key_sent: list[float] = []
    key_latency: list[float] = []

    class BenchRunScreen(RunScreen):
        BINDINGS = [Binding("z", "bench_key", "bench")]
        pings: list[float] = []

        def on_ping(self, message: Ping) -> None:  # type: ignore[override]
            self.pings.append(time.perf_counter() - message.sent)

        def action_bench_key(self) -> None:
            if key_sent:
                key_latency.append(time.perf_counter() - key_sent.pop())

    from engine.profile import Profile
    from tui.backend import Backend

    class BenchBackend(Backend):
        def provision(self, profile, emit, cancel):
            return runner(profile, emit, cancel)

    profile = Profile(name="bench")
    app = AmlBatchApp(remember_theme=False, backend=BenchBackend())
    async with app.run_test(size=(80, 24)) as pilot:
        while len(app.screen_stack) < 2:  # the start screen is pushed just after start-up
            await pilot.pause(0.02)
        screen = BenchRunScreen(profile)
        lateness: list[float] = []
        last = [0.0]

        def tick() -> None:
            now = time.perf_counter()
            if last[0]:
                lateness.append(now - last[0] - 0.05)
            last[0] = now

        base_rss = rss_kb()
        max_pending = [0]
        await app.push_screen(screen)
        app.set_interval(0.05, tick)
        start = time.perf_counter()

        def pinger() -> None:
            n = 0
            while not done.is_set():
                screen.post_message(Ping(time.perf_counter()))
                max_pending[0] = max(max_pending[0], screen.buffer.pending)
                n += 1
                if n % 2 == 0 and not key_sent:  # a key press, as the terminal driver delivers it
                    key_sent.append(time.perf_counter())
                    app.post_message(events.Key("z", "z"))
                time.sleep(0.05)

        threading.Thread(target=pinger, daemon=True).start()
        while not done.is_set():
            await asyncio.sleep(0.05)
        while screen.state != "succeeded":
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - start
        peak_rss = rss_kb()
        log = screen.query_one("Log")
        absorbed = screen.lines_seen
        history = max(len(d) for d in screen.logs.values())

        def pct(values: list[float], q: float) -> float:
            values = sorted(values)
            return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0

        print(f"\nLog flood: one engine thread emitting StepLog events for {seconds:g} s "
              f"(2 steps, flush every {run_screen.FLUSH_SECONDS * 1000:.0f} ms):")
        print(f"  emitted        {emitted[0]:>10,} lines  {emitted[0] / seconds:>10,.0f} lines/s")
        print(f"  absorbed by UI {absorbed:>10,} lines  {absorbed / elapsed:>10,.0f} lines/s "
              f"(applied to step history; shown step written to the Log widget)")
        print(f"  dropped        {emitted[0] - absorbed:>10,} lines  (bounded buffer, counted and "
              f"reported in the log)")
        print(f"  timer (50 ms) lateness   p50 {pct(lateness, .5):6.1f} ms  p95 {pct(lateness, .95):6.1f} ms  "
              f"max {pct(lateness, 1):6.1f} ms  ({len(lateness)} ticks)")
        print(f"  message from a thread    p50 {pct(screen.pings, .5):6.1f} ms  p95 {pct(screen.pings, .95):6.1f} ms  "
              f"max {pct(screen.pings, 1):6.1f} ms  ({len(screen.pings)} messages)")
        print(f"  key press -> its action  p50 {pct(key_latency, .5):6.1f} ms  p95 {pct(key_latency, .95):6.1f} ms  "
              f"max {pct(key_latency, 1):6.1f} ms  ({len(key_latency)} presses)")
        print(f"  memory bound: Log widget {len(log.lines):,} lines (max {LOG_LINES:,}); per-step history "
              f"{history:,} lines (max {LOG_LINES:,}); buffer pending peak {max_pending[0]:,} "
              f"(log cap {screen.buffer._logs.maxlen:,}); RSS +{(peak_rss - base_rss) / 1024:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--flood-seconds", type=float, default=3.0)
    args = parser.parse_args()
    bench_startup(args.repeat)
    os.environ.setdefault("AMLBATCH_HOME", tempfile.mkdtemp(prefix="amlbatch-bench-"))
    asyncio.run(flood(args.flood_seconds))


if __name__ == "__main__":
    main()
