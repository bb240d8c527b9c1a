"""The layers of docs/ARCHITECTURE.md hold: the GPU workers and the shared layer (storage, job payloads,
provenance primitives, text cleaning) import no Flask, no Flask extension and no SQLAlchemy, and
importing the package builds no app (checked in a fresh interpreter, where nothing was imported yet);
no module imports a module that imports it back; the web never imports the workers."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys

import workers
from tests.conftest import ROOT

SHARED = [
    "stylelicense",
    "stylelicense.jobs",
    "stylelicense.jobs.payloads",
    "stylelicense.storage",
    "stylelicense.provenance",
    "stylelicense.provenance.c2pa_manifest",
    "stylelicense.provenance.hashes",
    "stylelicense.provenance.keys",
    "stylelicense.provenance.registration",
    "stylelicense.provenance.serials",
    "stylelicense.provenance.terms",
    "stylelicense.provenance.verification",
    "stylelicense.provenance.watermark",
    "stylelicense.text",
]
FORBIDDEN = ("flask", "flask_", "sqlalchemy", "werkzeug", "stylelicense.app", "stylelicense.extensions")

# For each module: import it, then list the forbidden modules that appeared with it.
PROBE = """
import importlib, json, sys
FORBIDDEN = {forbidden!r}
found = {{}}
for name in {modules!r}:
    importlib.import_module(name)
    bad = sorted(m for m in sys.modules if m.startswith(FORBIDDEN))
    if bad:
        found[name] = bad
        break
print(json.dumps(found))
"""


def _worker_modules() -> list[str]:
    names = ["workers"]
    for info in pkgutil.walk_packages(workers.__path__, "workers."):
        names.append(info.name)
    return names


def _probe(modules: list[str]) -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(forbidden=FORBIDDEN, modules=modules)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_worker_module_imports_without_flask_or_sqlalchemy():
    modules = _worker_modules()
    assert {
        "workers.tasks",
        "workers.lifecycle",
        "workers.training",
        "workers.generation",
        "workers.provenance.output_stage",
        "workers.pipelines.training",
    } <= set(modules)
    assert _probe(modules) == {}


def test_the_shared_layer_imports_without_flask_or_sqlalchemy():
    assert _probe(SHARED) == {}


def _import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports (at the top or inside functions; not under TYPE_CHECKING)."""
    modules: dict[str, tuple] = {}
    for top in ("stylelicense", "workers"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text())
        skipped = {
            id(node)
            for branch in ast.walk(tree)
            if isinstance(branch, ast.If) and ast.unparse(branch.test).endswith("TYPE_CHECKING")
            for node in ast.walk(branch)
        }
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    prefix = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(prefix + ([node.module] if node.module else []))
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_circles_and_the_web_never_imports_the_workers():
    graph = _import_graph()
    assert _cycles(graph) == []
    web_to_workers = {
        name: sorted(t for t in targets if t.startswith("workers"))
        for name, targets in graph.items()
        if name.startswith("stylelicense")
    }
    assert {name: targets for name, targets in web_to_workers.items() if targets} == {}
