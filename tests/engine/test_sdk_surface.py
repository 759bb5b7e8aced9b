"""engine/ uses only the documented surface of the Azure SDKs (issue 11): no private `azure.*`
module, no private attribute of an SDK object, no monkeypatching of a library module. The
project's own `_` modules and attributes are fine: an underscore attribute passes when engine/
itself defines that name."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "engine"
PATCHED_LIBRARIES = ("azure", "msal", "multiprocessing", "requests", "urllib3")


def _trees() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in sorted(ENGINE.rglob("*.py"))}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_names(trees: dict[Path, ast.Module]) -> set[str]:
    """Every name engine/ defines: functions, classes, assigned names and attributes, arguments,
    its own module names."""
    names = {path.stem for path in ENGINE.rglob("*.py")} | {p.name for p in ENGINE.rglob("*") if p.is_dir()}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) \
                    and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                names.add(node.attr)  # our objects' own attributes (not an assignment into a library's)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
    return names


def _library_modules(tree: ast.Module) -> dict[str, str]:
    """Local name -> module, for names bound by importing a module that is not ours."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not alias.name.startswith("engine"):
                    found[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and not node.module.startswith("engine"):
            for alias in node.names:
                found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return found


def violations() -> list[str]:
    trees = _trees()
    ours = _defined_names(trees)
    found = []
    for path, tree in trees.items():
        where = path.relative_to(ROOT)
        libraries = _library_modules(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:
                modules = []
            for module in modules:
                parts = module.split(".")
                if parts[0] == "azure" and any(_private(p) for p in parts):
                    found.append(f"{where}:{node.lineno}: private SDK module {module}")
                if module.startswith("multiprocessing.spawn"):
                    found.append(f"{where}:{node.lineno}: multiprocessing.spawn internals ({module})")
            if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in ours:
                found.append(f"{where}:{node.lineno}: private attribute .{node.attr}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in ("getattr", "setattr", "hasattr") and len(node.args) >= 2 \
                    and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str) \
                    and _private(node.args[1].value) and node.args[1].value not in ours:
                found.append(f"{where}:{node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    base = target
                    while isinstance(base, ast.Attribute):
                        base = base.value
                    if isinstance(target, ast.Attribute) and isinstance(base, ast.Name) \
                            and libraries.get(base.id, "").split(".")[0] in PATCHED_LIBRARIES:
                        found.append(f"{where}:{node.lineno}: assigns into library module {libraries[base.id]}")
    return found


def test_engine_uses_only_the_documented_sdk_surface() -> None:
    assert violations() == []


def test_the_check_catches_what_it_forbids(tmp_path: Path, monkeypatch) -> None:
    """The guard itself: each kind of reach into internals it is there to refuse."""
    import tests.engine.test_sdk_surface as me

    fake = tmp_path / "engine"
    fake.mkdir()
    (fake / "bad.py").write_text(
        "import sys\n"
        "from azure.ai.ml.entities._assets import Code\n"
        "from azure.core.polling import base_polling\n"
        "from multiprocessing import spawn\n"
        "def f(ml, poller):\n"
        "    ml._code.create_or_update(Code())\n"
        "    base_polling.LROBasePolling._sleep = None\n"
        "    spawn.get_preparation_data = None\n"
        "    getattr(poller.polling_method(), '_operation')\n"
        "    return sys._getframe(1)\n")
    (fake / "good.py").write_text("class A:\n    def __init__(self):\n        self._mine = 1\n"
                                  "    def g(self, other):\n        return other._mine\n")
    monkeypatch.setattr(me, "ENGINE", fake)
    monkeypatch.setattr(me, "ROOT", tmp_path)
    text = "\n".join(me.violations())
    for needle in ("private SDK module azure.ai.ml.entities._assets", "private attribute ._code",
                   "private attribute ._sleep", "assigns into library module azure.core.polling.base_polling",
                   "multiprocessing.spawn", "'_operation'", "private attribute ._getframe"):
        assert needle in text, (needle, text)
    assert "good.py" not in text


def test_every_azure_sdk_dependency_is_bounded_below_its_next_major() -> None:
    import re
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    azure = [d for d in deps if d.startswith("azure-")]
    assert azure
    for dep in azure:  # an upper bound on a major version: "<2", "<13", ...
        assert re.search(r",\s*<\s*\d+\s*$", dep), dep
