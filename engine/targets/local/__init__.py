"""The local target: every step on this machine, with state on disk under the data folder.

The on-disk layout follows Azure's resource model so a profile means the same thing on both
targets:

    <data>/local/subscriptions/<sub>/resourceGroups/<rg>/group.json
        storageAccounts/<account>/account.json
        storageAccounts/<account>/containers/<container>/container.json, index.jsonl, blobs/...
        workspaces/<ws>/workspace.json
        workspaces/<ws>/{computes,datastores,batchEndpoints,schedules}/<name>.json
        workspaces/<ws>/batchEndpoints/<endpoint>/deployments/<name>.json
        workspaces/<ws>/{environments,models,codes}/<name>/<version>/...
        workspaces/<ws>/jobs/<job id>/...

Every resource carries tags naming the profile that made it; tear-down removes only those.

Modules: `state` (the layout above and what every step shares), one module per step (its Step
class), `jobs` (scoring runs), `jobhost` (the detached process a job runs in), `target` (the
LocalTarget that names the steps). This file imports nothing, so importing one module of the
package never loads the others.
"""
