"""`multai list` and `multai rm NAME`: the pulled models in the model store."""

from __future__ import annotations

import argparse
import difflib
import sys
import time
from typing import TYPE_CHECKING

from multai_core.config import Config, models_dir

if TYPE_CHECKING:
    from multai_core.store.manifest import PulledModel

ORDER = 16  # after pull

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = sub.add_parser("list", help="list the pulled models in the model store")
    listing.set_defaults(handler=_list)
    rm = sub.add_parser("rm", help="remove a pulled model and its files from the model store")
    rm.add_argument("name", metavar="NAME", help="the pulled model's name (multai list)")
    rm.add_argument(
        "--url",
        help="remove it through the running server at this URL (its admin key in "
        "MULTAI_API_KEY): it stops serving it at once, and under Ray Serve every node drops it",
    )
    rm.set_defaults(handler=_rm)


def human_size(size: int) -> str:
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _list(_: argparse.Namespace, config: Config) -> int:
    from multai_core.store.manifest import ModelStore

    root = models_dir(config.server)
    models = ModelStore(root).entries()
    if not models:
        print(f"no pulled models in {root}: `multai pull NAME` fetches one")
        return 0
    print(
        f"{'NAME':28} {'BACKEND':10} {'SIZE':>10}  {'SOURCE':36} {'REVISION':12} {'PULLED':16} PATH"
    )
    for m in models:
        pulled = time.strftime("%Y-%m-%d %H:%M", time.localtime(m.pulled_at))
        print(
            f"{m.name:28} {m.backend:10} {human_size(m.size_bytes):>10}  {m.source:36} "
            f"{m.revision[:12]:12} {pulled:16} {m.path}"
        )
    return 0


def _rm(args: argparse.Namespace, config: Config) -> int:
    if args.url:
        from multai_core.cli.remote import api_root
        from multai_core.cli.store_remote import rm_through

        return rm_through(api_root(args.url), args.name)
    from multai_core.store.manifest import ModelStore

    store = ModelStore(models_dir(config.server))
    name: str = args.name
    if store.get(name) is not None:
        try:
            removed = store.remove(name)
        except OSError as exc:
            print(f"multai: cannot remove {name} from {store.root}: {exc}", file=sys.stderr)
            return 1
        print(
            f"removed {removed.name} ({human_size(removed.size_bytes)}, "
            f"{store.folder_for(name)}); a running server serves it until it restarts"
        )
        return 0
    print(f"multai: {_not_pulled(name, config, store.entries())}", file=sys.stderr)
    return 1


def _not_pulled(name: str, config: Config, pulled: list[PulledModel]) -> str:
    """Why ``name`` cannot be removed from the store: it is configured, a plugin's default,
    or not there at all (then the closest pulled name)."""
    if any(name in (m.name, *m.aliases) for m in config.models):
        return (
            f"'{name}' is configured in [[models]], not pulled: remove its entry from the "
            "config to stop serving it"
        )
    backend = _default_of(name)
    if backend is not None:
        return (
            f"'{name}' is a default model of the {backend} plugin, not pulled: set "
            "default_models = false in the config (or uninstall the plugin) to stop serving it"
        )
    owner = next((m.name for m in pulled if name in m.aliases), None)
    if owner is not None:
        return f"'{name}' is an alias of the pulled model '{owner}': multai rm {owner}"
    close = difflib.get_close_matches(name, [m.name for m in pulled], n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"no pulled model '{name}'{hint}; `multai list` shows the model store"


def _default_of(name: str) -> str | None:
    from multai_core.engine.packs import Packs
    from multai_core.plugins import make_plugin_manager

    for backend in Packs(make_plugin_manager()).backends:
        if any(name in (m.name, *m.aliases) for m in backend.default_models):
            return backend.name
    return None
