"""A template that renders tools itself (Qwen/Hermes style), through the chat_template option."""

from __future__ import annotations

import json

import msgspec
import pytest
from conftest import SYSTEM, run
from multai_llamacpp.chat_template import ChatTemplate

from multai_core.plugin_api import ChatTask, InvalidRequest, Placement

NATIVE_TOOLS_TEMPLATE = (
    "{% if tools %}<|im_start|>system\nTools:\n{% for t in tools %}{{ t.function.name }}: "
    "{{ t.function.description }}\n{% endfor %}<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n"
    "{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>\n"
    '{"name": "{{ c.function.name }}", "arguments": {{ c.function.arguments | tojson }}}\n'
    "</tool_call>{% endfor %}{% else %}{{ m.content }}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look a word up in the dictionary",
        "parameters": {
            "type": "object",
            "properties": {"word": {"type": "string"}},
            "required": ["word"],
        },
    },
}


@pytest.fixture(scope="module")
def native_handle(pm, spec):
    custom = msgspec.structs.replace(
        spec, options={"n_threads": 1, "n_ctx": 512, "chat_template": NATIVE_TOOLS_TEMPLATE}
    )
    loaded = pm.hook.multai_load(spec=custom, placement=Placement(kind="cpu"))
    yield loaded
    pm.hook.multai_unload(handle=loaded)


def test_native_tool_template_renders_tools_and_history(pm, native_handle):
    assert native_handle.template.native_tools
    messages = [
        SYSTEM,
        {"role": "user", "content": "Define cat."},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"word": "cat"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "a small furry animal"},
        {"role": "user", "content": "And dog?"},
    ]
    body = {
        "messages": messages,
        "tools": [TOOL],
        "tool_choice": "required",
        "temperature": 0,
        "max_tokens": 30,
    }
    out = run(pm, native_handle, "chat", body)
    assert out.finish == {0: "tool_calls"}
    [call] = out.calls[0]
    assert call["name"] == "lookup"
    assert "word" in json.loads(call["arguments"])


def test_native_template_gets_the_tool_list_not_the_hermes_block(native_handle):
    from conftest import engine_task
    from multai_llamacpp.chat import plan_chat

    chat = engine_task(
        "chat", {"messages": [SYSTEM, {"role": "user", "content": "Hi"}], "tools": [TOOL]}
    )
    assert isinstance(chat, ChatTask)
    plan, mode, _ = plan_chat(native_handle, chat)
    prompt = bytes(native_handle.llama.detokenize(plan.prompt, special=True)).decode()
    assert mode == "auto"
    assert "Tools:\nlookup: Look a word up" in prompt
    assert "<tools>" not in prompt


def _chatml(messages, _tools):
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n", ["<|im_end|>"]


def test_a_final_assistant_message_is_left_open_to_continue():
    template = ChatTemplate(name="chatml", renderer=_chatml, native_tools=False)
    messages = [
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "My favourite is"},
    ]
    prompt, stops = template.render(messages, None, continue_final=True)
    assert prompt == (
        "<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\nMy favourite is"
    )
    assert stops == ["<|im_end|>"]
    finished, _ = template.render(messages, None)
    assert finished.endswith("My favourite is<|im_end|>\n<|im_start|>assistant\n")


def test_a_template_that_drops_the_final_message_cannot_continue_it():
    def users_only(messages, tools):
        return _chatml([m for m in messages if m["role"] == "user"], tools)

    template = ChatTemplate(name="users-only", renderer=users_only, native_tools=False)
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hel"}]
    with pytest.raises(InvalidRequest, match="cannot be continued"):
        template.render(messages, None, continue_final=True)
    with pytest.raises(InvalidRequest, match="Only a final assistant message"):
        template.render(messages[:1], None, continue_final=True)
