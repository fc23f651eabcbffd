"""`multai pull NAME`: fetch a model from the Hugging Face hub into the model store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from multai_core.config import Config, models_dir

if TYPE_CHECKING:
    from multai_core.plugin_api.types import ModelSpec
    from multai_core.store.preflight import Assessment

ORDER = 15  # after models


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from multai_core.store.catalog import catalog_lines

    pull = sub.add_parser(
        "pull",
        help="download a model from the Hugging Face hub into the model store",
        description="NAME is a catalog name or owner/repo[:file-or-quantization][@revision]. "
        "The hub is HF_ENDPOINT (default https://huggingface.co); HF_TOKEN for gated models.",
        epilog="catalog:\n" + "\n".join(catalog_lines()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pull.add_argument("reference", metavar="NAME", help="catalog name or hub reference")
    pull.add_argument("--name", help="serve it under this name (default: from NAME)")
    pull.add_argument("--backend", help="the backend to serve it with, when its files do not say")
    pull.add_argument(
        "--yes", "-y", action="store_true", help="pull even when it would not fit in memory"
    )
    pull.add_argument(
        "--update",
        action="store_true",
        help="NAME is a pulled model: fetch its source's newest revision",
    )
    pull.add_argument(
        "--url",
        help="pull through the running server at this URL (its admin key in MULTAI_API_KEY): "
        "it serves the model at once, and under Ray Serve every node gets it",
    )
    pull.set_defaults(handler=_pull)


def _pull(args: argparse.Namespace, config: Config) -> int:
    from multai_core.store.catalog import PullRefused
    from multai_core.store.manifest import ModelStore
    from multai_core.store.pull import PullOptions, pull

    if args.url:
        from multai_core.cli.remote import api_root
        from multai_core.cli.store_remote import pull_through

        body = {"model": args.reference, "name": args.name, "backend": args.backend}
        return pull_through(api_root(args.url), body | {"yes": args.yes, "update": args.update})
    options = PullOptions(name=args.name, backend=args.backend, yes=args.yes, update=args.update)
    terminal = sys.stdin.isatty() and sys.stdout.isatty()
    try:
        pull(
            args.reference,
            ModelStore(models_dir(config.server)),
            options,
            assess=_assessor(config),
            confirm=_ask if terminal else None,
            out=sys.stdout,
        )
    except PullRefused as exc:
        print(f"multai pull: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\nmultai pull: interrupted; run the same command to resume, nothing was recorded",
            file=sys.stderr,
        )
        return 130
    return 0


def _ask(question: str) -> bool:
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _assessor(config: Config) -> Callable[[ModelSpec], Assessment]:
    from multai_core.engine.memory import MemoryManager
    from multai_core.engine.packs import Packs
    from multai_core.plugins import make_plugin_manager
    from multai_core.store.preflight import assessor

    packs = Packs(make_plugin_manager())
    return assessor(packs.hooks.keys(), MemoryManager(packs, config.memory))
