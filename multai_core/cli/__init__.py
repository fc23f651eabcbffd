"""The `multai` command. Each module of this package is a group of subcommands: it has
``register(sub)``, which adds its parsers with a ``handler(args, config) -> int`` default, and an
``ORDER`` that places it in ``--help``; a new module is found here without being listed, like
the server's controllers."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType

from multai_core.config import ConfigError, load_config


def _command_groups() -> list[ModuleType]:
    modules = [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")  # __main__ runs the command when imported
    ]
    groups = [m for m in modules if hasattr(m, "register")]
    return sorted(groups, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="multai", description="MultAI inference server")
    parser.add_argument("--config", help="TOML config file (default: $MULTAI_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in _command_groups():
        group.register(sub)
    args = parser.parse_args(argv)
    try:
        config = load_config(getattr(args, "serve_config", None) or args.config)
        return int(args.handler(args, config))
    except ConfigError as exc:
        print(f"multai: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
