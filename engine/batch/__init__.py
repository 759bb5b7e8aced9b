"""Run a batch-scoring job on this machine with Azure ML batch-deployment semantics.

The local target calls `run_batch`; this package needs only the standard library (numpy and the
user's dependencies are imported by the worker processes, through the user's scoring script).

    settings = BatchSettings.from_profile(profile)
    result = run_batch(job_id, files, scorer_dir, "score.py", scorer_dir / "model", settings,
                       output_dir, logs_dir, emit, cancel)

    run_batch(job_id, files, scorer_dir, script, model_dir, settings, output_dir, logs_dir, emit,
              cancel=None, max_workers=None) -> BatchResult

What it does, as an Azure batch deployment does:

- `files` is split, in order, into mini-batches of `settings.mini_batch_size` files.
- `instance_count * max_concurrency_per_instance` worker processes are started, capped at
  `max_workers` (default: the cores this process may use) and at the number of mini-batches; a
  JobLog (warning) says when the cores or max_workers cap applies. Workers are fresh Python
  subprocesses (safe when the caller runs threads, e.g. a Textual app) talking to the parent over
  `multiprocessing.connection`; they do not import the caller's __main__ (see
  engine.batch.processes), so start-up costs a Python start plus what the script imports.
- Each worker puts `scorer_dir` first on sys.path, loads `scorer_dir/script` by its file path,
  sets `AZUREML_MODEL_DIR=model_dir`, `AZUREML_BI_OUTPUT_PATH=output_dir` and
  `AMLBATCH_OUTPUT_ACTION=<output_action>` (and OMP/OpenBLAS/MKL thread counts of
  cores // workers unless already set), calls `init()` once, then `run(mini_batch)` per mini-batch
  with the files' absolute paths. SIGINT is ignored in workers: Ctrl+C is the caller's to handle.
- `timeout` applies to each `run()` call; a mini-batch whose run() raises, times out (the worker is
  killed) or whose worker dies (segfault, os._exit) is tried again, up to `max_retries` more times
  (a dead worker is replaced by a new process). After the last attempt all its files count as
  failed, with the last error.
- `init()` (or importing the script) failing: that worker exits and a new one is started; the job
  fails with the init error ("init() failed: <Type>: <message>") once init has failed more than
  `max_retries` times in all (Azure restarts failed processes too; a deterministic init bug thus
  costs 1 + max_retries start-ups). `settings.init_timeout` bounds a hung import or init().
- Failed files: the files of mini-batches that failed as above, plus what the script reports
  itself: a script may define `pop_failures() -> list[(path, reason)]` (the bundled scorer does: it
  skips bad files and names them). Without it Azure's rule applies: fewer results than files in a
  mini-batch count as that many failed files, reported under the mini-batch's name since nothing
  says which. When failed files exceed `error_threshold` (-1: never) the job stops and fails.
- `append_row`: every element run() returns becomes one line of `output_dir/<output_file_name>`
  (a pandas DataFrame result becomes CSV rows without header). `summary_only`: results are only
  counted (`BatchResult.rows` then counts items); the script writes its own files under
  AZUREML_BI_OUTPUT_PATH.
- Cancel (`cancel.set()` on a threading.Event, or any object whose `.canceled` is true, such as
  engine.run.CancelToken) is checked at least every 0.1 s; the workers are killed and the job
  ends Canceled.

Output file: a worker writes its rows to its own part file (`output_dir/.amlbatch-<job>.parts/`)
and reports only a byte range; the parent accepts the range only when it accepts the mini-batch as
done, so bytes of an attempt that timed out, crashed or was given up never reach the output and a
retried mini-batch never duplicates rows. Accepted ranges are copied (sendfile) in mini-batch order,
i.e. input file order, into a hidden temporary file once all earlier mini-batches are finished
(after each batch of replies; ranges that follow each other in one part file in one copy), so the
parent holds no rows and the copying overlaps the scoring.

Dispatch: each worker has one mini-batch running and at least one queued ahead in its pipe, so it
never waits for the parent between two. Once two mini-batches per worker are timed, short ones go
out many to a message (engine.batch.scheduling.AHEAD seconds' worth, at most MAX_AHEAD, never more
than half a worker's share of what is left), and while every worker has work queued the parent
sleeps for half of the least fed worker's queue instead of waking for each reply, then takes the
replies together. A mini-batch's `timeout` runs from when the parent learns that the one before
it finished, so a run() may be given up to that nap (at most POLL) more than `timeout`. At the end:
Completed -> the temporary file is renamed to `<output_file_name>`; Failed -> the rows of every
mini-batch that did complete are kept as `<output_file_name>.partial` (`BatchResult.partial_file`)
and no `<output_file_name>` is written; Canceled -> nothing is kept. An existing
`<output_file_name>` makes the job fail before it starts (use a fresh output folder per job, as on
Azure). Part and temporary files are always removed.

Logs: `logs_dir/overview.txt` (like Azure's job_progress_overview.txt: settings, worker start-up
and exits, retries, every failed file, progress every 5 s, final status) and
`logs_dir/worker-N.txt` (one per worker process, a replacement gets the next N: the script's
stdout and stderr, file descriptors included, logging at `logging_level`, tracebacks, faulthandler
dumps on a crash; every line through engine.secrets.redact, at most engine.batch.workerlog.LOG_CAP
bytes per worker with a note where it was cut). Notable overview lines (cap, retries, crashes, time-outs, the first 20 failed
files, the end) and the script's first 50 WARNING+ log records go out as JobLog events.

Events, always emitted from the calling thread: JobStatus Starting -> Running (first worker ready)
-> Finalizing (Completed only) -> Completed | Failed | Canceled; JobProgress at most every 0.1 s
plus a final one; JobLog; exactly one JobFinished, last. `run_batch` returns a `BatchResult`; it
raises only ValueError for invalid arguments (before anything starts) and whatever `emit` raises
(the workers are killed first).

Modules: settings (BatchSettings, BatchResult, end states), scheduling (run_batch and the job
loop), processes (the parent's handle on a worker process), worker (what runs in a worker
process), output (assembling the output file from the part files). mlflow_driver/mlflow_score.py is
not imported by any of them: it is the scoring script the local target gives the runner for an
MLflow model (engine.mlflowmodel).
"""

__all__ = ["run_batch", "usable_cores", "BatchSettings", "BatchResult", "COMPLETED", "FAILED", "CANCELED"]
_HOME = {"run_batch": "scheduling", "usable_cores": "scheduling"}


def __getattr__(name: str):
    """The public names, imported when first asked for: a worker process imports
    engine.batch.worker, and with it this package, so the package itself imports nothing."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"engine.batch.{_HOME.get(name, 'settings')}"), name)
