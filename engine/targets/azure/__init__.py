"""The azure target: every provisioning step in a real Azure subscription.

This package file imports nothing, so importing any module of the package loads only what that
module needs (the Azure SDKs are imported by the modules that call them, mostly inside functions).
The registry (engine.targets) builds `engine.targets.azure.target.AzureTarget`; nothing on the
local path imports this package.

Layout:
* `target`   AzureTarget: the step map, `around` (every step operation runs through it: logging
             and SDK output bound to the step, prefetch before a check, Azure errors explained),
             close; scoring runs come from `_jobs.AzureJobs`.
* `session`  what the steps share, once per target: sign-in, clients (azure-ai-ml MLClient,
             azure-mgmt-resource, azure-storage-blob through `_blob`), the read cache and prefetch,
             the shared reads, the tear-down rules, the upload. `AzureStep` is the steps' base.
* `steps/`   one module per step of engine.steps.STEPS (resource_group ... schedule).
* `_base` (thread logging, states, references), `_errors` (Azure errors as sentences), `_lro`
  (waiting for long-running operations, Ctrl+C), `_capture` (SDK output off the terminal),
  `_blob` (Entra ID with an account-key fallback), `_scheduled_entry` (the entry script of scheduled
  runs in Azure).

Contract (engine.contract): `check` only reads, at most one read per resource, reads of one step
made concurrently; `apply` makes what the check found missing or different. What differs and what
may change in place is decided once for both targets in engine.diff. Every resource we create
carries the tags `created-by=amlbatch` and `amlbatch-profile=<profile>` (engine.ownership);
tear-down deletes only what carries this profile's tag.

Resuming: a resource Azure reports as Creating/Updating is waited for, not created again; a
workspace whose template deployment is still running (a run stopped with Ctrl+C) is picked up
from that deployment. Ctrl+C stops the *waiting* (see `_lro`), never the operation in Azure.

Errors from Azure become one sentence with what to do (`_errors.explain`). The SDKs' printing and
logging never reach the terminal (`_capture`).

Note: MLClient writes AZUREML_CURRENT_CLOUD into os.environ (the cloud it talks to); harmless,
and left in place because other live clients may read it.
"""
