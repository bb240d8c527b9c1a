"""The layers of docs/ARCHITECTURE.md hold: the GPU workers and the shared layer (storage, job payloads,
provenance primitives, text cleaning) import no Flask, no Flask extension and no SQLAlchemy, and
importing the package builds no app. Checked in a fresh interpreter, where nothing was imported yet."""

from __future__ import annotations

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
    result = subprocess.run([sys.executable, "-c", PROBE.format(forbidden=FORBIDDEN, modules=modules)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_worker_module_imports_without_flask_or_sqlalchemy():
    modules = _worker_modules()
    assert {"workers.tasks", "workers.lifecycle", "workers.training", "workers.generation",
            "workers.provenance.output_stage", "workers.pipelines.training"} <= set(modules)
    assert _probe(modules) == {}


def test_the_shared_layer_imports_without_flask_or_sqlalchemy():
    assert _probe(SHARED) == {}
