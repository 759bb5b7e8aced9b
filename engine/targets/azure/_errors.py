"""Turning what Azure answered into one sentence: what happened and what to do.

`explain(exc, what)` takes any exception an SDK call raised while doing `what` ("create the
compute cluster 'cpu-cluster'") and returns a StepError with a message fit to show as it is.
Known causes get specific advice; anything else gets Azure's own code and message.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from engine.errors import AmlBatchError, StepError

PROVIDERS_HINT = ("az provider register --namespace {ns} (or Portal > Subscriptions > Resource "
                  "providers > {ns} > Register), wait until it says Registered, then run again")


def _errors(exc: Any) -> Iterator[tuple[str, str]]:
    """(code, message) of the error and every nested detail, outermost first."""
    seen = 0
    stack = [getattr(exc, "error", None)]
    while stack and seen < 50:
        err = stack.pop(0)
        seen += 1
        if err is None:
            continue
        if isinstance(err, dict):
            code, message = err.get("code") or "", err.get("message") or ""
            details = err.get("details") or []
            inner = err.get("error")
            if inner:
                details = [inner, *details]
        else:
            code, message = getattr(err, "code", "") or "", getattr(err, "message", "") or ""
            details = list(getattr(err, "details", None) or [])
            inner = getattr(err, "innererror", None)
        yield str(code), str(message)
        for detail in details:
            stack.append(detail)
        # ARM deployment failures carry the real error as JSON text inside a detail's message
        if isinstance(message, str) and message.lstrip().startswith("{"):
            try:
                import json

                parsed = json.loads(message)
                stack.append(parsed.get("error", parsed))
            except ValueError:
                pass


def _status(exc: Any) -> int | None:
    code = getattr(exc, "status_code", None)
    if code is None:
        response = getattr(exc, "response", None)
        code = getattr(response, "status_code", None)
    return int(code) if isinstance(code, int) else None


def error_code(exc: Any) -> str:
    """The most specific Azure error code in the exception (innermost non-generic one)."""
    codes = [c for c, _ in _errors(exc) if c]
    generic = {"DeploymentFailed", "Conflict", "BadRequest", "InternalServerError", "ResourceDeploymentFailure",
               "ResourceOperationFailure", "UserError", "ValidationError"}
    specific = [c for c in codes if c not in generic]
    if specific:
        return specific[-1]
    return codes[-1] if codes else ""


def error_text(exc: Any) -> str:
    """Code and message of the most useful nested error, on one line."""
    pairs = [(c, m) for c, m in _errors(exc) if c or m]
    if not pairs:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        return first[:400]
    generic = {"DeploymentFailed", "ResourceDeploymentFailure", "ResourceOperationFailure", "Conflict"}
    best = next((p for p in reversed(pairs) if p[0] not in generic and p[1]), pairs[-1])
    code, message = best
    message = " ".join(message.split())
    return (f"{code}: {message}" if code else message)[:500]


def _match(pattern: str, *texts: str) -> bool:
    return any(re.search(pattern, t or "", re.I) for t in texts)


def is_not_found(exc: Any) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    return isinstance(exc, ResourceNotFoundError) or _status(exc) == 404


def endpoint_name_taken(exc: Any) -> bool:
    text = " ".join(m for _, m in _errors(exc)) + " " + str(exc)
    return _match(r"unique (within|in) (the |a )?region|already an endpoint with this name|"
                  r"endpoint name .* is not available|name .* (already )?(taken|in use)", text)


def soft_deleted(exc: Any) -> bool:
    text = " ".join(f"{c} {m}" for c, m in _errors(exc)) + " " + str(exc)
    return _match(r"soft[- ]?delet", text)


def explain(exc: BaseException, what: str) -> AmlBatchError:
    """A StepError for `exc`, raised while trying to `what`."""
    if isinstance(exc, AmlBatchError):
        return exc
    from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError, ServiceRequestError,
                                       ServiceResponseError)

    status = _status(exc)
    code = error_code(exc)
    text = error_text(exc)
    all_text = " ".join(f"{c} {m}" for c, m in _errors(exc)) + " " + str(exc)
    if isinstance(exc, ClientAuthenticationError) and status is None:
        return StepError(f"could not {what}: signing in to Azure failed ({text}); sign in again "
                         "(`az login`, or the sign-in method in account.auth) and run again")
    if status == 401:
        return StepError(f"could not {what}: Azure did not accept the sign-in ({text}). If the subscription "
                         "belongs to another tenant, set account.tenant_id; otherwise sign in again")
    if code == "MissingSubscriptionRegistration" or _match(r"not registered to use namespace", all_text):
        ns = re.search(r"namespace '?([A-Za-z]+\.[A-Za-z.]+)'?", all_text)
        namespace = ns.group(1).rstrip(".") if ns else "Microsoft.MachineLearningServices"
        return StepError(f"could not {what}: the subscription is not registered for {namespace}. "
                         "To fix: " + PROVIDERS_HINT.format(ns=namespace))
    if code == "RequestDisallowedByPolicy" or _match(r"disallowed by policy", all_text):
        policy = re.search(r"policy (?:assignment|definition)? ?'([^']+)'", all_text)
        which = f" ('{policy.group(1)}')" if policy else ""
        return StepError(f"could not {what}: an Azure Policy of your organisation forbids it{which}. "
                         f"Azure said: {text}. Change the profile to what the policy allows (often the region, "
                         "a tag or the network settings) or ask your Azure administrator for an exemption")
    if code in ("AuthorizationFailed", "LinkedAuthorizationFailed", "AuthorizationPermissionMismatch") \
            or (status == 403 and code != "AuthorizationFailure"):
        return StepError(f"could not {what}: the signed-in identity lacks the permission ({text}). "
                         "Ask for the Contributor role on the resource group (or subscription), wait a few "
                         "minutes for it to apply, then run again")
    if _match(r"quota|QuotaExceeded|InsufficientQuota|OperationNotAllowed.*cores", code + " " + all_text) \
            and not _match(r"throttl|too many requests", all_text):
        return StepError(f"could not {what}: not enough quota ({text}). Request more vCPU quota for this VM "
                         "family in the region (Azure ML studio > Quota, or Portal > Quotas), or choose a smaller "
                         "compute.vm_size / fewer compute.max_nodes, then run again")
    if soft_deleted(exc):
        return StepError(f"could not {what}: a soft-deleted workspace still holds the name ({text}). Either "
                         "recover it in the Azure portal (Azure Machine Learning > Recently deleted), or purge it "
                         "(`amlbatch --teardown --purge` on the profile that made it, or `az ml workspace delete "
                         "--permanently-delete`), or choose another workspace.name")
    if status == 429 or code in ("TooManyRequests", "ThrottledRequest", "RetryableError"):
        return StepError(f"could not {what}: Azure is throttling requests ({text}). Wait a minute and run "
                         "again; finished work is not repeated")
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)) or _match(
            r"Connection(Error| aborted| reset)|RemoteDisconnected|timed out", type(exc).__name__ + " " + str(exc)):
        return StepError(f"could not {what}: the connection to Azure failed ({text}). Check the network and "
                         "run again; finished work is not repeated")
    if isinstance(exc, HttpResponseError) and status is not None and status >= 500:
        return StepError(f"could not {what}: Azure had an internal error ({text}). This is usually "
                         "temporary: run again; finished work is not repeated")
    if isinstance(exc, HttpResponseError) and _match(r"Operation failed or canceled|\bFailed\b", all_text):
        return StepError(f"could not {what}: the operation failed in Azure ({text}). Run again to retry; "
                         "if it keeps failing, look at the resource in the Azure portal")
    if isinstance(exc, HttpResponseError):
        return StepError(f"could not {what}: {text}")
    name = type(exc).__name__
    return StepError(f"could not {what}: {name}: {text}" if name not in text else f"could not {what}: {text}")
