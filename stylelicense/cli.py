"""Operator commands: `flask --app wsgi <group> <command>`.

Each feature may add a click group in ``<feature>/cli.py`` named ``group``; they are registered here.
"""

from __future__ import annotations

import importlib

from flask import Flask

FEATURES = ("users", "tokens", "styles", "generations", "community", "search", "tags", "notifications", "provenance")


def register_cli(app: Flask) -> None:
    for feature in FEATURES:
        try:
            module = importlib.import_module(f"stylelicense.{feature}.cli")
        except ModuleNotFoundError as error:
            if error.name != f"stylelicense.{feature}.cli":
                raise
            continue
        for name in ("group", "groups"):
            value = getattr(module, name, None)
            for group in value if isinstance(value, (list, tuple)) else [value] if value else []:
                app.cli.add_command(group)
