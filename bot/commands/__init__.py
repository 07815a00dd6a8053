"""CLI command modules. Every module here defines `register(app)`; `bot.cli` calls them all, so a
feature's commands live beside the feature's own code instead of in one growing file."""

from __future__ import annotations

import importlib
import pkgutil

import typer


def register_all(app: typer.Typer) -> None:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{module.name}").register(app)
