"""A no-op re-run of a fully provisioned azure profile, against the fake cloud answering every call
after a fixed delay (a stand-in for Azure's round trip).

    uv run python -m tests.benchmarks.bench_azure_noop [--delay 0.1] [--repeat 3]

Not collected by pytest. It provisions a profile (schedule included) with no delay, then measures,
best of `--repeat`, with `--delay` seconds added to each call:

  (a) sequential  the same step checks one after another in graph order, each step's reads one
                  after another: what a plain script that looks before it leaps would take
  (b) engine      engine.run.provision on a fresh AzureTarget: steps run as soon as what they need
                  is done, a step's independent reads run together, and the target starts every
                  read that needs only the profile at once (Session.prefetch), so only the
                  containers wait for the workspace (their storage account)

and prints, for each, the HTTP calls (reads) and the wall time, the ratio (a)/(b), how many calls
read the same resource twice, and the budget: the longest dependency chain of the step graph times
the delay. Targets: every resource read at most once, and (b) within the budget.

Both use one credential whose tokens are already fetched (sign-in is not what is measured), and
the SDKs are imported before timing.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def chain_length() -> int:
    from engine.steps import STEPS

    depth: dict[str, int] = {}
    for spec in STEPS:  # STEPS is in dependency order
        depth[spec.key] = 1 + max((depth[n] for n in spec.needs), default=0)
    return max(depth.values())


class _Ctx:
    """What a check sees, for calling the checks without the engine."""

    def __init__(self, spec: Any, values: dict[str, Any], plans: dict[str, str]):
        from engine.run import CancelToken

        self.spec, self._values, self._plans = spec, values, plans
        self.step = spec.key
        self.plan_only, self.options, self.cancel = True, {}, CancelToken()
        self.profile = None

    def value(self, step: str) -> Any:
        return self._values.get(step)

    def planned(self, step: str) -> str:
        return self._plans.get(step, "")

    def log(self, message: str, level: str = "info") -> None:
        pass

    def progress(self, done: float, total: float, unit: str = "") -> None:
        pass

    def checkpoint(self) -> None:
        pass

    def emit(self, event: Any) -> None:
        pass


def sequential(profile: Any, credential: Any) -> list[str]:
    from engine.steps import STEPS
    from engine.targets.azure.target import AzureTarget
    from engine.run import CancelToken

    target = AzureTarget(profile, lambda e: None, CancelToken(), credential=credential)
    target.session.parallel = lambda *calls: [c() for c in calls]  # one read after another,
    target.session.prefetch = lambda: None  # each when its step gets to it
    values: dict[str, Any] = {}
    plans: dict[str, str] = {}
    try:
        for spec in STEPS:
            ctx, step = _Ctx(spec, values, plans), target.step(spec.key)
            check = target.around(ctx, "check", lambda: step.check(ctx))
            values[spec.key], plans[spec.key] = check.value, check.plan
    finally:
        target.close()
    return [plans[s.key] for s in STEPS]


def engine_run(profile: Any, credential: Any) -> list[str]:
    from engine import run
    from engine.targets.azure.target import AzureTarget

    target = AzureTarget(profile, lambda e: None, run.CancelToken(), credential=credential)
    summary = run.provision(profile, lambda e: None, target=target)
    return [f.outcome for f in summary.steps.values()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=0.1, help="seconds added to every call (default 0.1)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    args = parser.parse_args(argv)

    import warnings

    warnings.filterwarnings("ignore", module="marshmallow.*")  # azure-ai-ml's schemas on import
    warnings.filterwarnings("ignore", module="azure.*")
    home = tempfile.mkdtemp(prefix="amlbatch-bench-")
    os.environ["AMLBATCH_HOME"] = home
    sys.path.insert(0, str(REPO))
    import azure.ai.ml  # noqa: F401 - imported before timing
    from azure.core.pipeline.transport._base import HttpTransport

    from engine import run
    from engine.profile import load
    from engine.targets.azure import _lro
    from tests.fakeazure import FakeAzure
    from tests.azure_support import write_profile

    HttpTransport.sleep = lambda self, seconds: None  # no retry back-off (none should happen anyway)
    _lro.CLOCK.scale = 0.0
    path = write_profile(Path(home) / "project", '\n[schedule]\nfrequency = "day"\n')
    profile = load(str(path))

    with FakeAzure() as cloud:
        credential = cloud.credential()
        credential.get_token("https://management.azure.com/.default")
        credential.get_token("https://storage.azure.com/.default")
        from engine.targets.azure.target import AzureTarget

        summary = run.provision(profile, lambda e: None,
                                target=AzureTarget(profile, lambda e: None, run.CancelToken(), credential=credential))
        assert summary.outcome == "succeeded", summary.steps
        engine_run(profile, credential)  # warm every code path once

        cloud.delay = args.delay
        results: dict[str, tuple[float, int, int, list[str]]] = {}
        for _ in range(args.repeat):
            for name, fn in (("sequential", sequential), ("engine", engine_run)):
                cloud.reset_calls()
                start = time.perf_counter()
                outcome = fn(profile, credential)
                wall = time.perf_counter() - start
                calls = [c for c in cloud.calls if "login." not in c.host]
                writes = [c for c in calls if c.method not in ("GET", "HEAD")]
                reads = collections.Counter((c.host, c.path.lower(), str(c.query.get("comp", ""))) for c in calls)
                twice = sum(n - 1 for n in reads.values() if n > 1)
                if name not in results or wall < results[name][0]:
                    results[name] = (wall, len(calls), twice, outcome)
                assert not writes, f"{name}: a no-op re-run wrote: {writes}"

    chain = chain_length()
    budget = chain * args.delay
    print(f"no-op re-run of a provisioned azure profile, fake cloud answering after {args.delay * 1000:.0f} ms "
          f"per call, best of {args.repeat}")
    print(f"{'':12} {'HTTP calls':>10} {'read twice':>10} {'wall s':>8}")
    for name in ("sequential", "engine"):
        wall, calls, twice, _ = results[name]
        print(f"{name:12} {calls:>10} {twice:>10} {wall:>8.3f}")
    seq, eng = results["sequential"][0], results["engine"][0]
    print(f"ratio sequential/engine: {seq / eng:.2f}x")
    print(f"longest dependency chain: {chain} steps x {args.delay * 1000:.0f} ms = budget {budget:.3f} s; "
          f"engine {'within' if eng <= budget else 'OVER'} budget ({eng / budget:.0%} of it)")
    print(f"engine outcomes: {dict(collections.Counter(results['engine'][3]))}")
    import shutil

    shutil.rmtree(home, ignore_errors=True)
    ok = eng <= budget and results["engine"][2] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
