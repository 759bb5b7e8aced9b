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


_PROFILE_ID = re.compile(r"^[0-9a-f]{32}$")


def profile_id(value: object) -> str | None:
    """A profile's id: 32 lowercase hex digits (a uuid4), written by amlbatch; empty until then."""
    if value == "" or (isinstance(value, str) and _PROFILE_ID.match(value)):
        return None
    return "32 lowercase hex digits written by amlbatch (delete the line and amlbatch writes a new one)"


_BLOB_FORBIDDEN = re.compile(r"[\\\x00-\x1f]")


def blob_path(value: object, *, empty_ok: bool = True) -> str | None:
    """A blob name or folder inside a container: Azure's blob-name rules (1-1024 characters, at most
    254 '/'-separated segments, no segment ending in '.'), and never climbing out of the container:
    no '..' segment, no absolute path, no backslash."""
    if not isinstance(value, str):
        return "must be a string"
    if value == "":
        return None if empty_ok else "must not be empty"
    if len(value) > 1024:
        return "at most 1024 characters (Azure blob names)"
    if value.startswith(("/", "~")) or PureWindowsPath(value).drive:
        return "a relative folder inside the container (not an absolute path)"
    if _BLOB_FORBIDDEN.search(value):
        return "no backslashes or control characters; separate folders with '/'"
    segments = value.strip("/").split("/")
    if any(part in ("..", ".") for part in segments):
        return "no '.' or '..' segments: a path must stay inside its container"
    if any(part == "" for part in segments):
        return "no empty segments ('//')"
    if len(segments) > 254:
        return "at most 254 '/'-separated segments (Azure blob names)"
    if any(part.endswith(".") for part in segments):
        return "no segment may end with '.' (Azure blob names)"
    return None


def job_id(value: object) -> str | None:
    """A scoring run's id: it names a folder and blobs, so one plain name."""
    if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$", value):
        return "a scoring run id as --jobs lists it (letters, digits, '_', '-', '.'; no folders)"
    return portable_file_name(value)


def time_zone(value: object) -> str | None:
    """A schedule's time zone: an IANA name zoneinfo knows (tzdata supplies them on Windows)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(value, str) or not value.strip():
        return "an IANA time zone name such as UTC or Europe/Berlin"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return "an IANA time zone name such as UTC or Europe/Berlin"
    return None


def windows_zone(iana: str) -> str | None:
    """Azure ML schedules take Windows time zone names ("W. Europe Standard Time"); the profile IANA ones."""
    from tzlocal.windows_tz import tz_win

    return "UTC" if iana in ("UTC", "Etc/UTC", "GMT", "Etc/GMT") else tz_win.get(iana)


def start_time(value: object) -> str | None:
    """A schedule's start: empty (when served) or an ISO 8601 date and time, e.g. 2026-01-31T09:00:00."""
    from datetime import datetime

    if value == "":
        return None
    try:
        datetime.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "an ISO 8601 date and time such as 2026-01-31T09:00:00 (or empty: when --serve starts)"
    return None


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


def mlmodel(text: str) -> str | None:
    """An MLflow model's MLmodel file: YAML with a python_function flavour, the one Azure batch
    deployments (and amlbatch's local runner) score with."""
    import yaml  # only for MLflow models: off the start-up path

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return f"the MLmodel file is not valid YAML ({' '.join(str(exc).split())[:200]})"
    flavors = data.get("flavors") if isinstance(data, dict) else None
    if not isinstance(flavors, dict):
        return "the MLmodel file has no 'flavors' section"
    if "python_function" not in flavors:
        found = ", ".join(map(str, flavors)) or "none"
        return (f"the MLmodel file has no python_function flavour (found: {found}); batch deployments "
                "score MLflow models through it: save the model with mlflow.<flavour>.save_model or log_model")
    return None


MAX_PATH = 1024  # characters in a local path a profile names
MAX_PATH_PART = 255  # characters in one of its folder or file names (every file system's limit)


def local_path(value: object, *, empty_ok: bool = True) -> str | None:
    """A path on this machine (scorer folder, data files): text the file system can take."""
    if not isinstance(value, str):
        return "must be a string"
    if not value.strip():
        return None if empty_ok else "must not be empty"
    if len(value) > MAX_PATH:
        return f"at most {MAX_PATH} characters (got {len(value)})"
    if "\x00" in value:
        return "no NUL character"
    if any(len(part) > MAX_PATH_PART for part in re.split(r"[\\/]", value)):
        return f"at most {MAX_PATH_PART} characters between separators"
    return None


def path_list(value: object) -> str | None:
    """Data files: paths, folders or globs on this machine (at most 10,000 entries)."""
    rule = string_list(value)
    if rule:
        return rule
    if len(value) > 10_000:  # type: ignore[arg-type]
        return "at most 10000 entries"
    for index, entry in enumerate(value):  # type: ignore[arg-type]
        rule = local_path(entry, empty_ok=False)
        if rule:
            return f"entry {index}: {rule}"
    return None


def string_list(value: object) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return "must be a list of non-empty strings"
    return None


_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .-]{0,63}$")


def column_names(value: object) -> str | None:
    """The scorer's output columns: they become a CSV header, so no commas, quotes or repeats."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return "must be a list of column names"
    for name in value:
        if not _COLUMN.match(name):
            return (f"column '{name}': 1-64 characters, letters, digits, '_', '-', '.' or spaces, "
                    "starting with a letter or '_'")
    if len(set(value)) != len(value):
        return "each column name once"
    return None
