"""The page itself: served from the package under a strict CSP, linked from /, asks for the key
and keeps it in session storage only, usable with a keyboard and on a phone-sized screen."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from ui_tests.conftest import KEY, Server, Watched, watch

PAGE_FILES = ["index.html", "style.css", "main.js", "api.js", "key.js", "chat.js", "ops.js"]


def test_the_page_is_public_its_data_is_not_and_its_csp_is_strict(server: Server) -> None:
    for name in ["", *PAGE_FILES]:
        response = httpx.get(f"{server.base_url}/ui/{name}")
        assert response.status_code == 200, name
        csp = response.headers["content-security-policy"]
        for rule in (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
        ):
            assert rule in csp, (name, rule)
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
    assert (
        httpx.get(f"{server.base_url}/ui/main.js")
        .headers["content-type"]
        .startswith("text/javascript")
    )
    for name in ["../config.py", "..%2Fapp.py", "missing.js", ".hidden.js", "ui.py"]:
        assert httpx.get(f"{server.base_url}/ui/{name}").status_code == 404, name
    # what the page shows stays behind the key
    for path in ["/ui/api/models", "/ui/api/devices", "/v1/models", "/v1/ps", "/v1/queue"]:
        assert httpx.get(f"{server.base_url}{path}").status_code == 401, path
    headers = {"authorization": f"Bearer {KEY}"}
    # the page's first question answers 200 either way: no 401 in the browser's console
    check = httpx.get(f"{server.base_url}/ui/api/key")
    assert check.status_code == 200 and check.json()["accepted"] is False
    wrong = httpx.get(f"{server.base_url}/ui/api/key", headers={"authorization": "Bearer x"})
    assert wrong.json() == {"accepted": False, "message": "Incorrect API key provided."}
    assert httpx.get(f"{server.base_url}/ui/api/key", headers=headers).json()["accepted"]
    models = httpx.get(f"{server.base_url}/ui/api/models", headers=headers).json()["data"]
    assert {m["id"]: m["tasks"] for m in models} == {
        "smollm2": ["chat", "completion", "embedding"],
        "whisper-base": ["transcription", "translation"],
        "piper-joe": ["speech"],
    }
    devices = httpx.get(f"{server.base_url}/ui/api/devices", headers=headers).json()
    assert devices["ram_total_bytes"] > devices["ram_free_bytes"] > 0


def test_root_links_to_the_page(ui: Watched) -> None:
    ui.page.goto(f"{ui.base_url}/")
    ui.page.get_by_role("link", name="Open the web page").click()
    ui.page.wait_for_url(f"{ui.base_url}/ui")
    expect(ui.page.locator("#key-dialog")).to_be_visible()


def test_the_key_is_asked_for_and_kept_in_session_storage_only(ui: Watched, shots: Path) -> None:
    page = ui.page
    page.goto(f"{ui.base_url}/ui")
    expect(page.locator("#key-dialog")).to_be_visible()
    expect(page.locator("#key-reason")).to_have_text("This server needs an API key.")
    ui.shot(shots, "01-key-dialog")
    page.get_by_label("Key", exact=True).fill("sk-wrong")
    page.get_by_role("button", name="Use this key").click()
    expect(page.locator("#key-reason")).to_have_text(
        "The server refused this key: Incorrect API key provided."
    )
    expect(page.locator("#key-dialog")).to_be_visible()
    page.get_by_label("Key", exact=True).fill(KEY)
    page.get_by_label("Key", exact=True).press("Enter")
    page.locator("body[data-ready=true]").wait_for()
    expect(page.locator("#key-dialog")).to_be_hidden()
    expect(page.locator("#chat-model")).to_have_value("smollm2")
    assert page.evaluate("sessionStorage.getItem('multai.apiKey')") == KEY
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("document.cookie") == ""
    assert not any(KEY in url for url in ui.requests)
    assert ui.authorizations and set(ui.authorizations) == {f"Bearer {KEY}"}
    assert page.evaluate("sessionStorage.length") == 1
    # the key lives as long as the tab: a reload keeps it, another tab has none
    page.reload()
    page.locator("body[data-ready=true]").wait_for()
    expect(page.locator("#key-dialog")).to_be_hidden()
    other = page.context.new_page()
    other.goto(f"{ui.base_url}/ui")
    expect(other.locator("#key-dialog")).to_be_visible()
    other.close()


def test_speech_shows_and_what_no_model_serves_hides(ui: Watched) -> None:
    ui.open()
    tabs = ui.page.get_by_role("tab")
    expect(tabs).to_have_text(["Chat", "Speech", "Operations"])
    ui.page.get_by_role("tab", name="Speech").click()
    expect(ui.page.locator("#stt-form")).to_be_visible()
    expect(ui.page.locator("#tts-form")).to_be_visible()
    # no image or vision model here: their tabs stay hidden
    expect(ui.page.locator("#tab-images")).to_be_hidden()
    expect(ui.page.locator("#tab-vision")).to_be_hidden()


def test_every_control_has_a_label_and_tabs_work_by_keyboard(ui: Watched) -> None:
    ui.open()
    page = ui.page
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, meter')]
             .filter(c => !c.labels?.length && !c.getAttribute('aria-label'))
             .map(c => c.id || c.outerHTML)"""
    )
    assert unlabelled == []
    page.get_by_role("tab", name="Chat").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Speech")).to_be_focused()
    expect(page.get_by_role("tab", name="Speech")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#view-speech")).to_be_visible()
    page.keyboard.press("End")
    expect(page.get_by_role("tab", name="Operations")).to_be_focused()
    expect(page.locator("#view-ops")).to_be_visible()
    assert page.url.endswith("#ops")
    # the focus ring is drawn
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"


def test_a_phone_sized_screen_needs_no_sideways_scrolling(
    browser: Browser, server: Server, shots: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    ui = watch(context.new_page(), server.base_url)
    try:
        ui.open()
        options = ui.page.locator("#chat-options")
        expect(options).not_to_have_attribute("open", "")  # folded away on a phone
        ui.page.get_by_text("Model and settings").click()
        expect(ui.page.locator("#chat-model")).to_be_visible()
        ui.page.get_by_text("Model and settings").click()
        for view in ["chat", "speech", "ops"]:
            ui.page.get_by_role(
                "tab", name={"chat": "Chat", "speech": "Speech", "ops": "Operations"}[view]
            ).click()
            if view == "ops":
                ui.page.locator("#view-ops[data-updated]").wait_for()
            width = ui.page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, (view, width)
            ui.shot(shots, f"09-phone-{view}")
        assert ui.errors == []
    finally:
        context.close()
