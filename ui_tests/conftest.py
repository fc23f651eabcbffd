"""The web page in a real browser: Debian's chromium (/usr/bin/chromium) driven by Playwright,
against `multai serve` on SmolLM2, Whisper base and Piper's joe voice with an API key. Every
page records the console's errors and every URL the browser asked for; a test fails on either
(a console error, or any host but the server). Screenshots go to MULTAI_UI_SCREENSHOTS, else a
pytest temp folder, printed at the end."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from multai_llamacpp.default_model import default_models as llama_models
from multai_piper.default_model import default_models as piper_models
from multai_whisper.default_model import default_models as whisper_models
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from multai_core.plugin_api import ModelSpec
from multai_core.testing.server import multai_process

KEY = "sk-ui-test-4f1c9a"
CHAT_MODEL = "smollm2"
STT_MODEL = "whisper-base"
TTS_MODEL = "piper-joe"
WHISPER_KEEP_ALIVE_S = 6
CHROMIUM = os.environ.get("MULTAI_CHROMIUM", "/usr/bin/chromium")


def _toml_model(name: str, keep_alive: float, spec: ModelSpec, **options: object) -> str:
    inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in {**spec.options, **options}.items())
    return (
        f'[[models]]\nname = "{name}"\nbackend = "{spec.backend}"\n'
        f"path = {json.dumps(spec.path)}\n"
        f"keep_alive = {keep_alive}\noptions = {{ {inline} }}\n"
    )


@dataclass(frozen=True)
class Server:
    base_url: str
    log: Path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    llama, whisper, piper = llama_models(), whisper_models(), piper_models()
    if not llama or not whisper or not piper:
        pytest.fail("install the llamacpp, whisper and piper plugins with [default-model]")
    folder = tmp_path_factory.mktemp("server")
    config = folder / "multai.toml"
    config.write_text(
        "default_models = false\n"
        f'[server]\napi_keys = [{{ name = "ui", key = "{KEY}", admin = true }}]\n'
        f'data_dir = "{folder / "data"}"\n'
        + _toml_model(CHAT_MODEL, -1, llama[0], n_ctx=2048, n_threads=1, n_parallel=2)
        + _toml_model(STT_MODEL, WHISPER_KEEP_ALIVE_S, whisper[0])
        + _toml_model(TTS_MODEL, 300, piper[0])
    )
    log = folder / "server.log"
    env = {
        "MULTAI_LOAD_PLUGINS": "llamacpp,whisper,piper",
        "MULTAI_LLAMACPP_N_THREADS": "1",
        "MULTAI_WHISPER_CPU_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MULTAI_CACHE_DIR": str(folder / "cache"),
    }
    with multai_process(config=config, env=env, log_path=log) as base:
        yield Server(base, log)


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    configured = os.environ.get("MULTAI_UI_SCREENSHOTS")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    print(f"\nscreenshots: {folder} ({len(list(folder.glob('*.png')))} files)")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=["--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking"],
    )
    yield browser
    browser.close()


@dataclass
class Watched:
    """A page and what it did: console errors, uncaught exceptions, every URL requested."""

    page: Page
    base_url: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)

    def open(self, fragment: str = "") -> None:
        """Load /ui, enter the key in the dialog the page shows, wait until it is ready."""
        self.page.goto(f"{self.base_url}/ui{fragment}")
        dialog = self.page.locator("#key-dialog")
        dialog.wait_for(state="visible")
        self.page.get_by_label("Key", exact=True).fill(KEY)
        self.page.get_by_role("button", name="Use this key").click()
        self.page.locator("body[data-ready=true]").wait_for()

    def shot(self, folder: Path, name: str) -> None:
        self.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def watch(page: Page, base_url: str) -> Watched:
    watched = Watched(page, base_url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.errors.append(f"console: {message.text} at {message.location}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.errors.append(f"page error: {error}"))
    page.on("request", lambda request: watched.requests.append(request.url))
    page.on(
        "request",
        lambda request: (
            watched.authorizations.append(request.headers.get("authorization"))
            if request.url.startswith(f"{base_url}/v1/")
            else None
        ),
    )
    return watched


@pytest.fixture
def ui(browser: Browser, server: Server) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watched = watch(page, server.base_url)
    yield watched
    context.close()
    assert watched.errors == [], watched.errors
    strangers = [
        url
        for url in watched.requests
        if not url.startswith(f"{server.base_url}/") and not url.startswith(("blob:", "data:"))
    ]
    assert strangers == [], f"the page asked another host: {strangers}"
    assert watched.requests, "the page made no request at all"
