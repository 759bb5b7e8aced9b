"""The azure target's provisioning steps, one module each; engine.targets.azure.target names them.

Every step class is an engine.contract.Step over engine.targets.azure.session.AzureStep: `check`
reads (through the session's cache, at most one read per resource), `apply` makes what the check
found missing or different, `check_delete`/`delete` remove only what carries this profile's tag.
"""
