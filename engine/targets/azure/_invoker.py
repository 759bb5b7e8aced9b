"""Invoke an Azure ML batch endpoint from inside an Azure ML job (uploaded by amlbatch schedules).

Standard library only, so it runs in the scorer's own environment. It takes a token for
https://ml.azure.com from the cluster's managed identity and POSTs the invocation body that amlbatch
prepared (config.json: scoring_uri, endpoint, deployment, body) with a fresh job name and a fresh
output folder, exactly like `amlbatch --submit` does. The scoring job then shows in the endpoint's
job list like any other.
"""

import json
import os
import sys
import time
import urllib.parse
import urllib.request
import uuid

RESOURCE = "https://ml.azure.com"


def token() -> str:
    client_id = os.environ.get("DEFAULT_IDENTITY_CLIENT_ID") or os.environ.get("AZURE_CLIENT_ID") or ""
    query = {"resource": RESOURCE}
    if client_id:
        query["client_id"] = client_id
    if os.environ.get("IDENTITY_ENDPOINT") and os.environ.get("IDENTITY_HEADER"):
        url = os.environ["IDENTITY_ENDPOINT"] + "?" + urllib.parse.urlencode({**query, "api-version": "2019-08-01"})
        headers = {"X-IDENTITY-HEADER": os.environ["IDENTITY_HEADER"]}
    elif os.environ.get("MSI_ENDPOINT"):
        url = os.environ["MSI_ENDPOINT"] + "?" + urllib.parse.urlencode({**query, "api-version": "2017-09-01"})
        headers = {"secret": os.environ["MSI_SECRET"]} if os.environ.get("MSI_SECRET") else {}
    else:
        url = ("http://169.254.169.254/metadata/identity/oauth2/token?"
               + urllib.parse.urlencode({**query, "api-version": "2018-02-01"}))
        headers = {"Metadata": "true"}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as response:
        return json.loads(response.read().decode())["access_token"]


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    name = f"{config['endpoint']}-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
    body = json.loads(json.dumps(config["body"]).replace("{job}", name))
    body["properties"]["name"] = name
    headers = {"Authorization": f"Bearer {token()}", "Content-Type": "application/json",
               "Repeatability-Request-ID": str(uuid.uuid4()), "azureml-model-deployment": config["deployment"]}
    request = urllib.request.Request(config["scoring_uri"], data=json.dumps(body).encode(), headers=headers,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            print(f"submitted scoring job {name}: HTTP {response.status}")
    except urllib.error.HTTPError as err:
        print(f"invoking {config['scoring_uri']} failed: HTTP {err.code} {err.read().decode(errors='replace')}",
              file=sys.stderr)
        if err.code in (401, 403):
            print("give the cluster's managed identity the 'AzureML Data Scientist' role on the workspace",
                  file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
