"""The text plumbing on its own, without a model: stop sequences, UTF-8, tool-call parsing,
message rendering."""

from __future__ import annotations

import json

from multai_llamacpp.messages import template_messages
from multai_llamacpp.textstream import TextAssembler
from multai_llamacpp.tools import AutoToolParser, ForcedCallParser

from multai_core.plugin_api import Message, TextPart, TokenLogprob, ToolCall, ToolSpec


def lp(token: str) -> TokenLogprob:
    return TokenLogprob(token=token, logprob=-0.5)


def test_stop_sequence_split_across_tokens_is_never_emitted():
    assembler = TextAssembler(["STOP"])
    emitted = ""
    for data in [b"abc S", b"T", b"O", b"P tail"]:
        emitted += assembler.push(data).text
        if assembler.stopped:
            break
    assert assembler.stopped
    assert emitted == "abc "


def test_the_stop_sequence_that_matched_is_named():
    assembler = TextAssembler(["tail", "P t", "STOP"])
    for data in [b"abc S", b"T", b"O", b"P tail"]:
        assembler.push(data)
    assert assembler.matched == "STOP"  # the first in the text, not the first listed
    tied = TextAssembler(["ab", "a"])
    tied.push(b"xab")
    assert tied.matched == "ab"
    assert TextAssembler(["x"]).matched is None


def test_false_start_of_a_stop_sequence_is_released():
    assembler = TextAssembler(["STOP"])
    emitted = assembler.push(b"ab ST").text
    assert emitted == "ab "
    emitted += assembler.push(b"AY").text
    emitted += assembler.finish().text
    assert emitted == "ab STAY"


def test_utf8_split_across_tokens_and_logprobs_follow_their_text():
    assembler = TextAssembler([])
    first = assembler.push(b"\xe2\x82", lp("a"))
    assert first.text == ""
    assert first.logprobs == []
    second = assembler.push(b"\xac!", lp("b"))
    assert second.text == "\u20ac!"
    assert [x.token for x in second.logprobs] == ["a", "b"]


def test_forced_call_parser_streams_arguments_without_the_outer_brace():
    parser = ForcedCallParser()
    out = []
    for chunk in ['{"na', 'me": "get_w', 'eather", "argu', 'ments": {"city"', ': "Paris"}', "}"]:
        out += parser.feed(chunk)
    out += parser.finish(complete=True)
    assert out[0].name == "get_weather"
    assert out[0].id is not None
    arguments = "".join(d.arguments for d in out[1:])
    assert json.loads(arguments) == {"city": "Paris"}


def test_auto_parser_finds_hermes_calls_and_keeps_text():
    parser = AutoToolParser({"get_weather"})
    text = 'Let me check. <tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
    items = []
    for i in range(0, len(text), 7):
        items += parser.feed(text[i : i + 7])
    items += parser.finish()
    texts = "".join(i for i in items if isinstance(i, str))
    calls = [i for i in items if not isinstance(i, str)]
    assert texts.strip() == "Let me check."
    assert calls[0].name == "get_weather"
    assert json.loads(calls[1].arguments) == {"city": "Oslo"}
    assert parser.calls == 1


def test_auto_parser_bare_json_call_and_plain_json_answer():
    parser = AutoToolParser({"get_weather"})
    items = parser.feed('{"name": "get_weather", "parameters": {"city": "Rome"}}')
    items += parser.finish()
    assert parser.calls == 1
    parser = AutoToolParser({"get_weather"})
    items = parser.feed('{"answer": 4}') + parser.finish()
    assert items == ['{"answer": 4}']
    assert parser.calls == 0


def test_messages_render_tools_hermes_style():
    tool = ToolSpec(name="f", parameters={"type": "object"})
    messages = [
        Message(role="system", content=[TextPart(text="Be brief.")]),
        Message(role="user", content=[TextPart(text="hi")]),
        Message(role="assistant", tool_calls=[ToolCall(id="c1", name="f", arguments="{}")]),
        Message(role="tool", tool_call_id="c1", content=[TextPart(text="one")]),
        Message(role="tool", tool_call_id="c2", content=[TextPart(text="two")]),
    ]
    out = template_messages(messages, native_tools=False, tools=[tool])
    assert out[0]["role"] == "system"
    assert out[0]["content"].startswith("Be brief.")
    assert "<tools>" in out[0]["content"]
    assert "<tool_call>" in out[2]["content"]
    assert out[3]["role"] == "user"
    assert out[3]["content"].count("<tool_response>") == 2
    assert all(isinstance(m["content"], str) for m in out)
