"""Validators for every profile field and Azure name, in one place.

Each validator takes a value and returns None when it is fine or a short sentence naming the rule
it breaks. The profile loader, the `--set`/environment overrides and the TUI inputs all call these,
so a name is judged the same way wherever it is typed.
"""

from __future__ import annotations

import re
import uuid
from pathlib import PureWindowsPath
from typing import Callable

Validator = Callable[[object], "str | None"]

_RG = re.compile(r"^[-\w.()]{1,90}$")
_WORKSPACE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$")
_CONTAINER = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")
_COMPUTE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,23}$")
_DATASTORE = re.compile(r"^[a-z0-9_]{1,255}$")
_ENDPOINT = re.compile(r"^[a-zA-Z](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$")
_ASSET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_LOCATION = re.compile(r"^[a-z][a-z0-9]{1,39}$")
_VM_SIZE = re.compile(r"^(Standard|Basic)_[A-Za-z0-9_]+$")
_OUTPUT_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")


def resource_group(value: object) -> str | None:
    if not isinstance(value, str) or not _RG.match(value):
        return "1-90 characters: letters, digits, '_', '-', '.', '(' or ')'"
    if value.endswith("."):
        return "must not end with '.'"
    return None


def workspace(value: object) -> str | None:
    if not isinstance(value, str) or not _WORKSPACE.match(value):
        return "3-33 characters: letters, digits, '_' or '-', starting with a letter or digit"
    return None


def container(value: object) -> str | None:
    if not isinstance(value, str) or not 3 <= len(value) <= 63:
        return "3-63 characters: lowercase letters, digits and single '-' between them"
    if not _CONTAINER.match(value):
        return ("3-63 characters: lowercase letters, digits and single '-' between them "
                "(no '--', no leading or trailing '-')")
    return None


def compute(value: object) -> str | None:
    if not isinstance(value, str) or not _COMPUTE.match(value):
        return "3-24 characters: letters, digits or '-', starting with a letter"
    if value.endswith("-"):
        return "must not end with '-'"
    return None


def datastore(value: object) -> str | None:
    if not isinstance(value, str) or not _DATASTORE.match(value):
        return "1-255 characters: lowercase letters, digits or '_'"
    return None


def endpoint(value: object) -> str | None:
    """Batch endpoint and deployment names."""
    if not isinstance(value, str) or not 3 <= len(value) <= 32 or not _ENDPOINT.match(value):
        return ("3-32 characters: letters, digits or '-', starting with a letter "
                "and ending with a letter or digit")
    return None


def asset(value: object) -> str | None:
    """Environment and model names."""
    if not isinstance(value, str) or not _ASSET.match(value):
        return "1-255 characters: letters, digits, '_', '-' or '.', starting with a letter or digit"
    return None


def location(value: object) -> str | None:
    if not isinstance(value, str) or not _LOCATION.match(value):
        return "an Azure region name such as 'westeurope' or 'eastus2' (lowercase, no spaces)"
    return None


def vm_size(value: object) -> str | None:
    if not isinstance(value, str) or not _VM_SIZE.match(value):
        return "an Azure VM size such as 'Standard_DS3_v2'"
    return None


def optional_guid(value: object) -> str | None:
    if value == "":
        return None
    try:
        uuid.UUID(str(value))
    except ValueError:
        return "a GUID such as 00000000-0000-0000-0000-000000000000 (or empty)"
    return None if isinstance(value, str) else "must be a string"


# Windows is the strictest platform: what it takes as a file name, Linux and macOS take too.
_NOT_IN_NAMES = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"{port}{i}" for port in ("COM", "LPT") for i in range(1, 10))}


def portable_file_name(name: str) -> str | None:
    """Why `name` is not a file name on every platform (Linux, macOS, Windows), or None."""
    if name in ("", ".", ".."):
        return "must be a file name, not empty, '.' or '..'"
    if _NOT_IN_NAMES.search(name):
        return "no \\ / : * ? \" < > | or control characters"
    if name[-1] in ". ":
        return "must not end with a dot or a space (Windows drops them)"
    if name.split(".")[0].rstrip(" ").upper() in _DEVICES:
        return f"'{name}' is a device name on Windows (CON, NUL, COM1, ...)"
    return None


def output_file_name(value: object) -> str | None:
    if not isinstance(value, str) or not _OUTPUT_FILE.match(value):
        return "a plain file name such as 'predictions.csv' (no folders)"
    return portable_file_name(value)


def one_of(*choices: str) -> Validator:
    def check(value: object) -> str | None:
        if value not in choices:
            return "one of " + ", ".join(repr(c) for c in choices)
        return None

    return check


def int_range(low: int | None = None, high: int | None = None) -> Validator:
    def check(value: object) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be a whole number"
        if low is not None and value < low:
            return f"must be >= {low}"
        if high is not None and value > high:
            return f"must be <= {high}"
        return None

    return check


def non_empty_text(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must not be empty"
    return None


def text(value: object) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def relative_path(value: object) -> str | None:
    """A path inside the scorer folder: relative, and not climbing out of it."""
    if not isinstance(value, str) or not value.strip():
        return "must not be empty"
    parts = value.replace("\\", "/").split("/")
    # C:\x, C:x and \\server\share are not relative on Windows either
    if value.startswith(("/", "\\", "~")) or PureWindowsPath(value).drive or ".." in parts:
        return "a path inside the scorer folder (relative, no '..')"
    return None


def string_list(value: object) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return "must be a list of non-empty strings"
    return None
