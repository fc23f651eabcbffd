"""Thin HTTP controllers: decode, call serving, encode. Every Controller subclass defined in a
module of this package is mounted; a module for a new endpoint group needs no other edit."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from litestar import Controller


def discover() -> list[type[Controller]]:
    found: list[type[Controller]] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, Controller)
                and obj is not Controller
                and obj.__module__ == module.__name__
            ):
                found.append(obj)
    return found
