"""FakeAzure: an in-process fake of Entra ID, Azure Resource Manager, Azure ML and Blob storage, for tests.

The real SDKs run unchanged (azure-identity, azure-mgmt-resource, azure-ai-ml, azure-storage-blob): their
serializers, pipelines, retry policies and pollers all execute. Only the HTTP layer is replaced: a
``requests_mock.Mocker(real_http=True)`` routes every request for an Azure host into this object, which keeps
the cloud's state in memory. Requests for other hosts (e.g. Azurite on 127.0.0.1) go to the real network.
Nothing here is project code; the project must not import it outside tests.

Usage::

    from tests.fakeazure import FakeAzure

    with FakeAzure(subscriptions=[{"id": SUB, "name": "Dev", "tenant": TENANT}], locations=["eastus"]) as cloud:
        cred = cloud.credential()            # a real azure.identity.ClientSecretCredential
        ml = MLClient(cred, SUB, "rg1")      # ... any real SDK code ...
        assert not cloud.calls_matching("PUT", "/computes/")

Hosts faked: management.azure.com (ARM), login.microsoftonline.com (+ login.windows.net, ...),
``<region>.api.azureml.ms`` (discovery, run history, data plane, MFE), ``<endpoint>.<region>.inference.ml.azure.com``
(batch scoring URIs), ``<account>.blob.core.windows.net`` (Blob REST), telemetry hosts (swallowed), and any
other ``*.azure.com / *.windows.net / *.azure.net / *.azureml.ms / *.microsoft.com`` host (answered 501
FakeAzureNoRoute, see below). The managed-identity endpoint 169.254.169.254 raises ConnectionError.

Control API (all on the FakeAzure object)
-----------------------------------------
Construction: ``FakeAzure(subscriptions=[{"id", "name", "tenant"}...], locations=["eastus", ...],
tenants=[...], service_principals={client_id: secret} (None = accept any secret), lro_polls=0, delay=0.0,
strict=True)``; use as a context manager or ``start()`` / ``stop()``. With ``strict``, leaving the context
raises AssertionError if a handler crashed (``internal_errors``: a bug in the fake, answered 501).

Credentials: ``credential(tenant_id=None, client_id=..., client_secret=None)`` -> ClientSecretCredential
(authority login.microsoftonline.com). ``tokens_issued`` lists {tenant, client_id, audience} (never secrets).

Calls log: ``calls`` is a list of ``Call`` = (method, path, status) tuples with ``.host``, ``.url``,
``.query``; status 0 = connection dropped. ``calls_matching(method=None, contains=None, host_contains=None)``,
``reset_calls()``, ``unmatched`` (requests no route answered: 501 "FakeAzureNoRoute").

Failures: ``inject_failure(method=None, path_contains=None, *, status=500, times=1, kind=None, code=None,
message=None, retry_after=None, host_contains=None, connection_error=False, lro_failed=False)`` -> Failure
(``.hits``). Kinds: "http" answers ``status`` with an Azure error body (429 gets ``Retry-After``, default
1 s); "connection" raises requests.exceptions.ConnectionError; "lro" accepts the request but its LRO ends
"Failed" with {code, message} and the resource is left in provisioningState Failed. ``times=None`` = forever.
``clear_failures()``. Latency: ``delay`` seconds per faked request, slept before requests_mock's global
lock, so parallel requests overlap. LROs: ``lro_polls`` (InProgress answers before the terminal one, each
with ``Retry-After: lro_retry_after``), ``complete_operations()``.

State: ``state`` (deep-copied JSON-able snapshot), ``resource(arm_id)`` (JSON of a resource group,
top-level resource or AML child: compute, datastore (no secrets), endpoint, deployment, schedule, job, asset
container/version), ``workspace(name, resource_group=None, subscription=None)`` -> WorkspaceState
(``.id``, ``.storage_account``, ``.computes``, ``.datastores``, ``.endpoints``, ``.deployments``, ``.jobs``...),
``resource_groups``, ``resources``, ``soft_deleted_workspaces``, ``storage_accounts``.
Set-up without SDK calls: ``add_resource_group(name, location)``, ``add_workspace(name, resource_group,
location)`` (storage account, key vault, app insights, system datastores, as the SDK's deployment makes).
Reservations: ``taken_endpoint_names`` (names reserved "elsewhere" in every region),
``taken_storage_account_names``, ``purge_workspace(name, resource_group)``. Quota:
``quota[(location, family)] = vCPUs`` (families as in list_sizes; "TotalDedicatedCores",
"TotalLowPriorityCores"); ``(None, family)`` applies to every location.
Blob: ``account_key(account)``, ``put_blob(account, container, name, data, metadata=None)``,
``get_blob(...)``, ``blob_metadata(...)``, ``list_blobs(account, container, prefix="")``,
``containers(account)``, ``make_sas(account, container)``, ``verify_shared_key`` (True: SharedKey
signatures are checked against the account keys), ``blob_rbac_denied`` (accounts refusing bearer tokens
with 403 AuthorizationPermissionMismatch, as without a Storage Blob Data role).
Access (``_arm_authorization``): ``caller_permissions`` (the bearer callers' own rights, in the permissions
API's shape; default an Owner with every blob data action), ``without_blob_data_role()``,
``without_role_assignment_rights()``, ``role_assignments`` (id -> JSON), ``add_role_assignment(scope,
principal_id, role)`` (as an administrator), ``storage_scope(account)`` (its ARM id). Role assignments at a scope add their role's
permissions for the assigned ``oid``; ARM writes without the action answer 403 AuthorizationFailed,
bearer blob requests without the data action 403 AuthorizationPermissionMismatch.
Jobs: ``job(name)`` -> Job (``.status``, ``.kind`` "batch"/"batch-child"/jobType, ``.parent``,
``.children``, ``.inputs``, ``.output_uri``, ``.output_file``, ``.error``), ``jobs_all()``,
``set_job_status(name, status, error=None)`` (pins the status), ``advance_job(name)``,
``job_progression = ("Queued", "Running", "Completed")``, ``job_auto_advance = True``,
``scorer = callable(files: list[(relative name, bytes)], deployment JSON) -> bytes``.
``fire_schedule(name)`` -> job name: starts an enabled schedule's createJob as Azure does at an occurrence
(``${{name}}`` in output paths resolved); a pipeline whose step is a parallel step scores like a batch job,
the ``scorer`` getting the step's settings in the deployment's shape.
``file_errors = {file name: reason}`` (files the scorer skips; the job logs them, see below).

What is served
--------------
AAD: instance discovery, OpenID configuration (v1/v2), client-credentials token (unsigned JWT with aud,
tid, oid, appid, exp). Unknown tenant -> AADSTS90002; with ``service_principals`` a wrong secret ->
AADSTS7000215, an unknown client -> AADSTS700016.

ARM: ``GET /subscriptions`` (those of the token's tenant), ``/subscriptions/{id}``, ``/locations``,
``/tenants``, resource providers (get/list/register). Resource groups: HEAD (204/404, no body), GET, PUT
(201/200; a different location -> 409 InvalidResourceGroupLocation), PATCH, DELETE (202 + Location; deletes
what the group holds; workspaces in it are soft-deleted), list, ``/resources`` of a group or subscription.
Generic top-level resources by id (GET/HEAD/PUT/PATCH/DELETE), storage accounts (global names,
``listKeys``, blob containers via ``blobServices/default/containers``). Template deployments (PUT/GET/HEAD/
list and ``/operations``) with a small ARM expression evaluator: conditions, parameters/variables,
resourceId, concat, if/equals/and/or/not/empty, ... . Storage accounts, key vaults, app insights, log
analytics and AML workspaces in a template are created; ARM preflight errors (400 InvalidTemplateDeployment)
for invalid/taken names and for soft-deleted workspaces. Deployments answer in their terminal state at once,
so azure-ai-ml's workspace poller never sleeps its 5 s (LROConfigurations.SLEEP_TIME); only an injected
"lro" failure of a deployment is asynchronous (then the SDK may sleep up to 5 s once).
Every ARM call needs a bearer token for management.azure.com from the subscription's tenant (else 401
InvalidAuthenticationTokenTenant / InvalidAuthenticationTokenAudience / AuthenticationFailed).

Azure ML (``.../workspaces/{ws}``): workspaces get/list (rg and subscription)/PATCH (begin_create of an
existing workspace)/DELETE (LRO; ``forceToPurge`` purges, otherwise soft delete: the name stays reserved and
re-creating fails with "Soft-deleted workspace exists. Please purge or recover it."; a template with
allowRecoverSoftDeletedWorkspace=true recovers it)/listKeys; properties carry workspaceId, storageAccount,
keyVault, applicationInsights, discoveryUrl (``https://<region>.api.azureml.ms/discovery``),
mlFlowTrackingUri. System datastores workspaceblobstore (default), workspaceartifactstore,
workspacefilestore, workspaceworkingdirectory (account-key, containers created).
Computes: GET/list/PUT (LRO)/PATCH (scale settings)/DELETE/listNodes; VM size and priority cannot change
in place (409); unknown sizes and bad names -> 400; quota checked for min nodes (400 QuotaExceeded).
``locations/{loc}/vmSizes`` and ``/usages`` (per family and totals; usage = min nodes x vCPUs of clusters).
Datastores: PUT/GET/list (isDefault filter)/DELETE; secrets are stripped from every GET and only returned by
``listSecrets`` (the account key for system datastores; 400 for credential-less datastores).
Assets (environments, models, codes, data, components): containers and versions (GET/PUT/DELETE/list
with $orderBy, $top, listViewType, hash); a version's content is immutable (409 on change, identical
re-PUT OK); ``startPendingUpload`` hands out a fresh container + SAS in the workspace storage account.
Batch endpoints: GET/list/PUT/PATCH/DELETE (LROs), scoringUri ``https://<name>.<region>.inference.ml.azure.com
/jobs``, defaults.deploymentName must name an existing deployment, names are unique per region (400 UserError
"The specified endpoint name '...' is not available. Endpoint names must be unique within the region..."),
empty tag values refused. Deployments: GET/list/PUT/PATCH/DELETE; compute, model, environment and code
references must exist in the workspace. Batch job listings on the MFE data plane (endpoint and deployment);
a batch job at ``<scoringUri>/<name>`` (GET, as Azure's REST samples poll it).
Schedules: GET/list (listViewType, EnabledOnly by default)/PUT (LRO, Recurrence or Cron; a CreateJob action
needs a jobDefinition with a jobType)/DELETE; they fire only through ``fire_schedule``.

Jobs: POST to a scoring URI (bearer token for ml.azure.com; ``azureml-model-deployment`` header or the
endpoint's default, else 400 "No valid deployments to route to") creates a parent job ``batchjob-<uuid>``
(jobType Pipeline on ARM) with one child (the scoring step). Each GET of the parent or child (ARM
``jobs/{name}`` or run history ``runs/{id}``) moves the parent one step along ``job_progression``; children
mirror the parent. Reaching Completed "scores": every blob under the input URI(s) (azureml://datastores/...,
long-form azureml:// URIs, https blob URLs, data assets) is read and ``scorer(files, deployment)`` writes the
output file (default predictions.csv, or the file of a uri_file output) into the output folder (default
``azureml://datastores/workspaceblobstore/paths/azureml/<child>/score/``; an existing file is kept). The
default scorer writes one row per non-empty input line: ``<file name>,<line number>,<score in [0,1)>``.
No input files, an unreadable datastore or a raising scorer make the job Failed with an error.
While Running and at Completed the child publishes its logs as run artifacts in the workspace artifact store
(container ``azureml``, ``ExperimentRun/dcid.<child>/logs/``): ``job_progress_overview.txt`` (mini-batches of
the deployment's miniBatchSize, done/total; items processed, succeeded, failed), ``user/error.txt``
(``<file>: <reason>`` per file in ``file_errors``) and ``user/stdout/node0/process000.stdout.txt``.
Also: ARM jobs list/get/PUT (submitted pipeline/command jobs progress but run nothing)/cancel (LRO ->
Canceled)/DELETE; run history run, details, children, rundata, batchrundata; dataset
``batchGetResolvedUris``. That is what ``jobs.get``, ``jobs.list(parent_job_name=...)``, ``jobs.stream``,
``jobs.download(child, output_name="score")`` and ``jobs.download(parent)`` need.

Blob (per storage account the fake holds; an unknown account raises ConnectionError like a DNS failure):
containers (create, properties, metadata, ACL, list, delete), block blobs (put, put block/block list, copy
from URL, get with ranges, properties with metadata, set metadata/properties, delete), list blobs (prefix,
delimiter, marker paging, metadata), If-None-Match/If-Match, Content-MD5 check. Auth: SharedKey (verified),
SAS (signature present and not expired), bearer token for https://storage.azure.com.

Errors are ``{"error": {"code", "message", "details"?}}`` (Blob: XML + x-ms-error-code); 404s map to the
SDK's ResourceNotFoundError; HEAD answers carry no body. Paths match case-insensitively and any
``api-version`` is accepted.

Not served: Azure Files/Data Lake/queue/table data planes (workspacefilestore exists as metadata only),
online endpoints, compute instances, registries, connections, key vault data plane, container registry,
image builds, metrics/artifacts services, logs of jobs (``jobs.stream`` shows no log lines), schedule
triggering by the clock (``fire_schedule`` fires one), paging beyond one page for ARM lists, resource locks,
custom roles, deny assignments and groups.
Error codes and messages follow Azure's where they are known; where not, the fake's own messages say what
is wrong.

Layout
------
``_fake``: FakeAzure (state, requests_mock plumbing, failure injection, dispatch); its base classes are the
registry of the modules below, one per resource, each holding that resource's ``@route`` handlers. Shared:
``_core`` (defaults, ARM path templates, Call, Failure), ``_http`` (Request, Response, ApiError, @route),
``_auth`` (token checks), ``_lro`` (long-running operations and their polls), ``_catalog`` (regions, VM sizes,
quotas), ``_template`` (ARM expression evaluator). Entra ID: ``_aad``. ARM: ``_arm_subscriptions``,
``_arm_providers``, ``_arm_groups``, ``_arm_resources`` (generic catch-all), ``_arm_storage``,
``_arm_deployments``, ``_arm_authorization`` (role assignments, permissions, access decisions).
Azure ML: ``_ml_workspaces``, ``_ml_compute``, ``_ml_datastores``, ``_ml_assets``,
``_ml_endpoints``, ``_ml_deployments``, ``_ml_schedules``, ``_ml_jobs``, ``_ml_invoke`` (scoring URIs),
``_ml_scoring``, ``_ml_joblogs`` (a job's published logs), ``_ml_dataplane`` (discovery, run history). Blob: ``_blob_accounts``, ``_blob_auth``,
``_blob_containers``, ``_blob_blobs``. Resource modules never import ``_fake``.
"""

from ._core import Call, Failure
from ._fake import FakeAzure
from ._ml_jobs import Job
from ._ml_scoring import default_scorer
from ._ml_workspaces import WorkspaceState

__all__ = ["FakeAzure", "Call", "Failure", "Job", "WorkspaceState", "default_scorer"]
