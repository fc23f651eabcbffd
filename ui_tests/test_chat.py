"""The chat playground on SmolLM2: tokens stream in, the answer shows its token counts and time
to first token, Markdown renders (escaped), Stop makes the server cancel the request."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect

from ui_tests.conftest import KEY, Watched

ADMIN = {"authorization": f"Bearer {KEY}"}


def _queue(base_url: str) -> list[dict[str, object]]:
    data: list[dict[str, object]] = httpx.get(f"{base_url}/v1/queue", headers=ADMIN).json()["data"]
    return data


def _cancelled(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics", headers=ADMIN).text
    found = re.search(
        r"^multai_inference_seconds_count"
        r'\{kind="chat",model="smollm2",outcome="cancelled"\} (\S+)$',
        text,
        re.MULTILINE,
    )
    return float(found.group(1)) if found else 0.0


def test_an_answer_streams_in_with_its_tokens_and_time_to_first_token(
    ui: Watched, shots: Path
) -> None:
    ui.open("#chat")
    page = ui.page
    page.get_by_label("Temperature").fill("0")
    page.get_by_label("Max tokens").fill("48")
    # every change the page makes to the conversation, seen from inside the page
    page.evaluate(
        """() => {
          window.seen = [];
          new MutationObserver(() => {
            const answer = document.querySelector("#chat-log .message.assistant .body");
            if (answer) window.seen.push(answer.textContent.length);
          }).observe(document.getElementById('chat-log'),
                     {subtree: true, childList: true, characterData: true});
        }"""
    )
    page.get_by_label("Message").fill("What is the capital of France?")
    page.get_by_label("Message").press("Enter")
    answer = page.locator("#chat-log .message.assistant").last
    expect(answer.locator(".meta")).to_contain_text("completion tokens", timeout=120_000)
    meta = answer.locator(".meta").inner_text()
    assert re.search(r"\d+ prompt \+ \d+ completion tokens", meta), meta
    assert re.search(r"first token after \d+\.\d\d s", meta), meta
    expect(answer.locator(".body")).to_contain_text("Paris")
    lengths = sorted({n for n in page.evaluate("window.seen") if n > 0})
    assert len(lengths) >= 3, f"the answer did not arrive in pieces: {lengths}"
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    expect(page.get_by_role("button", name="Stop")).to_be_disabled()
    ui.shot(shots, "02-chat")


def test_markdown_renders_code_blocks_and_escapes_html(ui: Watched) -> None:
    ui.open("#chat")
    rendered = ui.page.evaluate(
        """async () => {
          const { render } = await import('/ui/markdown.js');
          const box = document.createElement('div');
          box.append(render([
            '# Title', 'Some **bold**, *em* and `code` <img src=x onerror=alert(1)>.',
            '', '```python', 'print("<b>hi</b>")', '```', '', '- one', '- two',
            '', '[link](https://example.com) and [bad](javascript:alert(1)) ![pic](https://example.com/a.png)',
          ].join('\\n')));
          return {
            tags: [...box.querySelectorAll('*')].map(n => n.tagName.toLowerCase()),
            code: box.querySelector('pre code').textContent,
            lang: box.querySelector('pre code').dataset.lang,
            text: box.textContent,
            hrefs: [...box.querySelectorAll('a')].map(a => a.getAttribute('href')),
          };
        }"""
    )
    assert "img" not in rendered["tags"] and "b" not in rendered["tags"]
    assert {"h3", "strong", "em", "code", "pre", "ul", "li", "a"} <= set(rendered["tags"])
    assert rendered["code"] == 'print("<b>hi</b>")'
    assert rendered["lang"] == "python"
    assert "<img src=x onerror=alert(1)>" in rendered["text"]
    assert rendered["hrefs"] == ["https://example.com"]
    # the CSP's Trusted Types rule: the page cannot assign HTML strings at all
    refused = ui.page.evaluate(
        """() => { try { document.body.insertAdjacentHTML('beforeend', '<i>x</i>'); return false }
                   catch (e) { return e instanceof TypeError } }"""
    )
    assert refused
    # the refusal is logged as a console error, by design: that one, and only that, is expected
    refusals = [e for e in ui.errors if "TrustedHTML" in e]
    assert len(refusals) == 1, ui.errors
    ui.errors.remove(refusals[0])


def test_stop_cancels_the_request_on_the_server(ui: Watched, shots: Path) -> None:
    ui.open("#chat")
    page = ui.page
    before = _cancelled(ui.base_url)
    page.get_by_label("Max tokens").fill("1500")
    page.get_by_label("Temperature").fill("0")  # SmolLM2 then counts to the cap (about 25 s)
    page.get_by_label("Priority").select_option("2")
    page.get_by_label("Message").fill("Count from 1 to 1000, separated by commas.")
    page.get_by_role("button", name="Send").click()
    answer = page.locator("#chat-log .message.assistant").last
    page.wait_for_function(
        """() => document.querySelector("#chat-log .message.assistant .body")
                   ?.textContent.length > 20""",
        timeout=120_000,
    )
    # the operations view shows it running, at the priority the page sent
    page.get_by_role("tab", name="Operations").click()
    row = page.locator("#ops-queue tbody tr[data-request^=ui-chat-]")
    expect(row).to_contain_text("2 background", timeout=10_000)
    expect(row).to_contain_text("running")
    ui.shot(shots, "05-operations-running")
    running = [e for e in _queue(ui.base_url) if str(e["id"]).startswith("ui-chat-")]
    assert len(running) == 1 and running[0]["priority"] == 2
    page.get_by_role("tab", name="Chat").click()
    page.get_by_role("button", name="Stop").click()
    stopped_at = time.monotonic()
    while _queue(ui.base_url) and time.monotonic() - stopped_at < 10:
        time.sleep(0.1)
    assert _queue(ui.base_url) == [], "the server still runs the stopped request"
    deadline = time.monotonic() + 10
    while _cancelled(ui.base_url) < before + 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _cancelled(ui.base_url) == before + 1
    expect(answer.locator(".meta")).to_contain_text("Stopped")
    expect(answer).to_have_attribute("data-outcome", "stopped")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    ui.shot(shots, "03-chat-stopped")
    page.get_by_role("tab", name="Operations").click()
    expect(page.locator("#ops-queue-empty")).to_be_visible()
