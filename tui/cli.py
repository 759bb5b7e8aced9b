"""`amlbatch`: the Textual wizard, or the headless engine when asked for an action.

Headless runs never import Textual (nor Rich); the local target never imports the Azure SDKs.
"""

from __future__ import annotations

import argparse
import enum
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

from engine.errors import AmlBatchError, ProfileError


class Exit(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    CHANGES = 3
    INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="amlbatch",
        description="Stand up and run an Azure ML batch scoring service. Without an action it opens "
                    "the terminal wizard; with one it runs headless.",
        epilog="Exit codes: 0 ok, 1 a step or job failed, 2 bad usage or invalid profile, "
               "3 --plan found changes, 130 interrupted.",
    )
    p.add_argument("--profile", metavar="NAME|PATH", help="saved profile name or path to a .toml file")
    p.add_argument("--yes", "-y", action="store_true", help="do it without asking (scripts and CI)")
    p.add_argument("--plan", action="store_true", help="look at everything, change nothing")
    p.add_argument("--teardown", action="store_true", help="delete what this profile created")
    p.add_argument("--purge", action="store_true",
                   help="with --teardown on azure: purge the soft-deleted workspace so its name is free")
    p.add_argument("--cancel-jobs", action="store_true",
                   help="with --teardown: cancel the profile's queued or running scoring runs first")
    p.add_argument("--adopt", action="store_true",
                   help="take over resources another profile (or a person) made, after a confirmation")
    p.add_argument("--new-id", action="store_true",
                   help="give this profile file a new id (for a copied file: it then owns nothing yet)")
    p.add_argument("--submit", action="store_true", help="provision, then submit a scoring run")
    p.add_argument("--input", metavar="PATH", help="with --submit: score this local file or folder")
    p.add_argument("--no-wait", action="store_true", help="with --submit: return once the job is submitted")
    p.add_argument("--jobs", action="store_true", help="list this profile's scoring runs")
    p.add_argument("--results", metavar="JOB", help="copy a run's output to --out")
    p.add_argument("--out", metavar="DIR", help="with --results: destination folder (default ./results/JOB)")
    p.add_argument("--header", action="store_true",
                   help="with --results: start the results file with the profile's scorer.columns")
    p.add_argument("--serve", action="store_true",
                   help="serve the local endpoint's REST API on 127.0.0.1 and fire its schedule, until Ctrl+C")
    p.add_argument("--port", type=int, metavar="N", help="with --serve: the port (default 8765; 0 picks a free one)")
    p.add_argument("--list-profiles", action="store_true", help="saved profiles with target and last run")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a profile field for this run (repeatable)")
    p.add_argument("--json", action="store_true", help="the event stream as JSON lines on stdout")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--verbose", "-v", action="store_true", help="also print each step's log lines")
    p.add_argument("--version", action="store_true", help="print the version")
    return p


def is_headless(args: argparse.Namespace) -> bool:
    return any((args.yes, args.plan, args.teardown, args.submit, args.jobs, args.results,
                args.list_profiles, args.json, args.version, args.new_id, args.serve))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not is_headless(args):
        return open_wizard(args)
    from tui.closedpipe import EXIT_CLOSED, Guard

    stdout, sys.stdout = sys.stdout, Guard(sys.stdout)
    try:
        code = int(run_headless(args))
    except (AmlBatchError, ProfileError) as exc:
        from engine.secrets import redact

        print(f"amlbatch: {redact(str(exc))}", file=sys.stderr)
        code = int(Exit.USAGE)
    except KeyboardInterrupt:
        print("\namlbatch: interrupted", file=sys.stderr)
        code = int(Exit.INTERRUPTED)
    finally:
        guard, sys.stdout = sys.stdout, stdout
    if getattr(guard, "closed_pipe", False) and code not in (Exit.FAILED, Exit.INTERRUPTED):
        return EXIT_CLOSED  # the reader went away (| head): quiet, like a Unix tool (README)
    return code


def open_wizard(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("amlbatch: the wizard needs a terminal; for scripts use --profile NAME --yes "
              "(see --help)", file=sys.stderr)
        return int(Exit.USAGE)
    from tui.app import run_app

    return run_app(profile=args.profile, sets=args.sets)


# ----------------------------------------------------------------------------------- headless

def load_profile(args: argparse.Namespace):
    from engine import demo, profile

    if not args.profile:
        raise ProfileError("--profile", "", "required for this action (try --profile demo)")
    if demo.is_missing_demo(args.profile):
        created = demo.create_demo_profile()
        print(f"amlbatch: created the demo profile at {created.path} (local target, bundled scorer "
              "and generated data)", file=sys.stderr)
    loaded = profile.load(args.profile, args.sets)
    if loaded.name == demo.DEMO and loaded.path == profile.profile_path(demo.DEMO):
        demo.ensure_demo_data()
    return loaded


def confirm(question: str) -> bool:
    """Ask on the terminal; without one, refuse (the caller exits 2 with the reason)."""
    if not sys.stdin.isatty():
        raise AmlBatchError(f"no terminal to ask \"{question}\": pass --yes to answer yes")
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


class Interrupts:
    """First Ctrl+C cancels between operations; a second one stops at once."""

    def __init__(self, cancel: Any, say: Callable[[str], None]):
        self.cancel, self.say, self.count = cancel, say, 0

    def __enter__(self) -> "Interrupts":
        self.previous = signal.signal(signal.SIGINT, self.handle)
        return self

    def handle(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.count > 1:
            raise KeyboardInterrupt
        self.cancel.cancel()
        self.say("Stopping after the current operation (Ctrl+C again to stop at once; "
                 "cloud operations already started keep running and the next run picks them up)")

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self.previous)


def make_renderer(args: argparse.Namespace):
    from tui.headless import HumanRenderer, JsonRenderer, use_color

    if args.json:
        return JsonRenderer(sys.stdout)
    return HumanRenderer(sys.stdout, color=use_color(args.color, sys.stdout), verbose=args.verbose)


def run_headless(args: argparse.Namespace) -> Exit:
    if args.version:
        from importlib.metadata import version

        print(f"amlbatch {version('amlbatch')}")
        return Exit.OK
    if args.list_profiles:
        return list_profiles(args)
    actions = [a for a in ("plan", "teardown", "submit", "jobs", "results", "serve") if getattr(args, a)]
    if len(actions) > 1:
        raise AmlBatchError("choose one of --plan, --teardown, --submit, --jobs, --results, --serve")
    if args.port is not None and not args.serve:
        raise AmlBatchError("--port goes with --serve")
    if args.port is not None and not 0 <= args.port <= 65535:
        raise ProfileError("--port", "", f"a port number from 0 to 65535 (0: any free one), not {args.port}")
    if (args.input or args.no_wait) and not args.submit:
        raise AmlBatchError("--input and --no-wait go with --submit")
    if (args.out or args.header) and not args.results:
        raise AmlBatchError("--out and --header go with --results")
    if args.input:  # before provisioning
        from engine.validation import local_path

        if local_path(args.input):
            raise ProfileError("--input", "", local_path(args.input))
        if not Path(args.input).expanduser().exists():
            raise ProfileError("--input", "", f"no such file or folder: {args.input}")
    if args.purge and not args.teardown:
        raise AmlBatchError("--purge goes with --teardown")
    if args.cancel_jobs and not args.teardown:
        raise AmlBatchError("--cancel-jobs goes with --teardown")
    if args.adopt and (args.teardown or args.jobs or args.results):
        raise AmlBatchError("--adopt goes with provisioning (--yes, --plan or --submit), not with --teardown")
    if args.results:
        from engine.validation import job_id

        if job_id(args.results):
            raise ProfileError("--results", args.results, job_id(args.results))
    profile = load_profile(args)
    if args.new_id:
        from engine import identity

        print(f"profile '{profile.name}' has a new id {identity.new_id(profile)} (written to {profile.path}); "
              "it owns nothing yet, so its next run makes its own resources")
        return Exit.OK
    if args.jobs:
        return list_jobs(profile, args)
    if args.results:
        return copy_results(profile, args)
    if args.serve and not args.yes:  # with --yes it provisions first, as --yes --submit does
        return serve(profile, args)

    from engine import run

    if not args.teardown:  # tear-down must work even when the user's files are gone
        run.preflight(profile)
    cancel = run.CancelToken()
    renderer = make_renderer(args)
    say = (lambda text: print(f"\namlbatch: {text}", file=sys.stderr))
    from engine.cloud import SignInError

    try:
        with Interrupts(cancel, say):
            if args.plan:
                summary = plan_and_cost(profile, renderer, cancel, args.adopt)
                return _exit_for(summary, plan=True)
            if args.teardown:
                if not args.yes:
                    renderer.preview = True  # the summary says what would go, not what went
                    summary = run.teardown(profile, renderer, cancel, plan_only=True, cancel_jobs=args.cancel_jobs)
                    renderer.preview = False
                    if not summary.counts.get("would_delete"):
                        return _exit_for(summary)
                    if not confirm(f"Delete the {summary.counts['would_delete']} things listed above that "
                                   f"profile '{profile.name}' created?"):
                        print("Nothing deleted.", file=sys.stderr)
                        return Exit.OK
                summary = run.teardown(profile, renderer, cancel, purge=args.purge, cancel_jobs=args.cancel_jobs)
                return _exit_for(summary)
            if args.adopt and not args.yes and not confirm(
                    f"--adopt: let profile '{profile.name}' use and change resources other profiles or people "
                    "made, where its names meet them?"):
                print("Nothing changed.", file=sys.stderr)
                return Exit.OK
            if not args.yes:
                summary = plan_and_cost(profile, renderer, cancel, args.adopt)
                if summary.outcome == "changes" and not confirm("Make the changes listed above?"):
                    print("Nothing changed.", file=sys.stderr)
                    return Exit.OK
                if summary.outcome == "failed":
                    return _exit_for(summary)
            summary = run.provision(profile, renderer, cancel, adopt=args.adopt)
            code = _exit_for(summary)
            if code != Exit.OK or not (args.submit or args.serve):
                return code
            return serve(profile, args) if args.serve else submit(profile, args, renderer, cancel)
    except SignInError as exc:  # its own line, before any step: no step ran
        renderer.close()
        print(f"amlbatch: {exc}", file=sys.stderr)
        return Exit.FAILED
    finally:
        renderer.close()


def plan_and_cost(profile: Any, renderer: Any, cancel: Any, adopt: bool) -> Any:
    """The plan, then what the profile costs on Azure (prices looked up while the plan runs; a
    price that cannot be read is "price unavailable" and changes no exit code)."""
    from engine import pricing, run

    cost = pricing.estimate_later(profile)
    summary = run.plan(profile, renderer, cancel, adopt=adopt)
    if summary.outcome != "canceled":
        renderer(cost().event())
    return summary


def _exit_for(summary: Any, plan: bool = False) -> Exit:
    if summary.outcome == "canceled":
        return Exit.INTERRUPTED
    if summary.outcome == "failed":
        return Exit.FAILED
    if plan and summary.outcome == "changes":
        return Exit.CHANGES
    return Exit.OK


def submit(profile: Any, args: argparse.Namespace, renderer: Any, cancel: Any) -> Exit:
    from engine import jobs

    job = jobs.submit(profile, renderer, cancel, input_path=args.input, wait=not args.no_wait)
    if not args.json:
        for line in jobs.summary_lines(profile, job):
            print(line)
    if job.finished:  # its node time at the node price (README: Cost)
        from engine import pricing

        renderer(pricing.run_cost(profile, job).event())
    verdict = jobs.outcome(job)
    if verdict == "canceled":
        return Exit.INTERRUPTED
    return Exit.FAILED if verdict == "failed" else Exit.OK  # "partial" warns in the summary; 0


def serve(profile: Any, args: argparse.Namespace) -> Exit:
    """The local service in the foreground until Ctrl+C (README: The local service)."""
    from engine.serve import DEFAULT_PORT, LocalService, NotProvisioned
    from tui.headless import service_line

    def say(line: str) -> None:
        print(service_line(line, args.json), flush=True)

    service = LocalService(profile, say, DEFAULT_PORT if args.port is None else args.port)
    try:
        service.check_ready()
    except NotProvisioned as exc:  # nothing to serve yet: a failure, not bad usage
        print(f"amlbatch: {exc}", file=sys.stderr)
        return Exit.FAILED
    presses = []

    def interrupted(signum: int, frame: Any) -> None:  # its own handler, also after --yes provisioning
        presses.append(signum)
        if len(presses) > 1:
            raise KeyboardInterrupt  # a second Ctrl+C while stopping: at once
        service.ask_stop()

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        service.start()
        service.wait()
    finally:
        going = service.stop()
        signal.signal(signal.SIGINT, previous)
    say("Stopped the service." + (f" Still running: {', '.join(job.job_id for job in going)} "
                                   f"(amlbatch --profile {profile.name} --jobs)" if going else ""))
    return Exit.INTERRUPTED


def list_jobs(profile: Any, args: argparse.Namespace) -> Exit:
    from engine import jobs

    found = jobs.list_jobs(profile)
    if args.json:
        import json

        for job in found:
            print(json.dumps(job.to_dict()))
        return Exit.OK
    if not found:
        print(f"No scoring runs yet for profile '{profile.name}'. Start one with --submit.")
        return Exit.OK
    width = max(len(job.job_id) for job in found)
    print(f"{'JOB':<{width}}  {'STATUS':<10} {'SUBMITTED':<19} {'ROWS':>8} {'FAILED':>6}  OUTPUT")
    for job in found:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.submitted))
        status = "Failed" if jobs.outcome(job) == "failed" else job.status  # no row scored: failed to you
        by = f"  (scheduled: {job.scheduled})" if job.scheduled else ""  # a run its schedule started
        print(f"{job.job_id:<{width}}  {status:<10} {when:<19} {job.rows:>8} {job.failures:>6}  {job.output}{by}")
    return Exit.OK


def copy_results(profile: Any, args: argparse.Namespace) -> Exit:
    from engine import jobs

    out = Path(args.out) if args.out else Path.cwd() / "results" / args.results
    if not args.out:
        print(f"amlbatch: copying the results to {out} (--out DIR chooses another folder)", file=sys.stderr)
    copied = jobs.results(profile, args.results, out, header=args.header)
    for path in copied:
        print(path)
    return Exit.OK


def list_profiles(args: argparse.Namespace) -> Exit:
    from engine import profile as profiles
    from engine.record import last_run

    rows = []
    for path in profiles.list_profiles():
        try:
            p = profiles.load(str(path), environ={})
            where = f"{p.target}" + (f" {p.workspace.location}" if p.target == "azure" else "")
            ws = p.workspace.name
        except AmlBatchError as exc:
            where, ws = "invalid", str(exc)
        last = last_run(path.stem)
        last_text = (f"{last['action']} {last['outcome']} "
                     f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(last['ts']))}") if last else "never run"
        rows.append((path.stem, where, ws, last_text))
    if args.json:
        import json

        for name, where, ws, last_text in rows:
            print(json.dumps({"name": name, "target": where, "workspace": ws, "last_run": last_text}))
        return Exit.OK
    if not rows:
        print("No saved profiles. Try: amlbatch --profile demo --yes")
        return Exit.OK
    width = max(len(r[0]) for r in rows + [("PROFILE",)])
    print(f"{'PROFILE':<{width}}  {'TARGET':<18} {'WORKSPACE':<24} LAST RUN")
    for name, where, ws, last_text in rows:
        print(f"{name:<{width}}  {where:<18} {ws:<24} {last_text}")
    return Exit.OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
