"""The committed speech fixtures and what each says (file name -> espeak-ng voice, words per
minute, text). ``make_speech_fixtures.py`` rebuilds the files from this table."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"

SPEECH = {
    "en_invoice.wav": (
        "en-us",
        150,
        "Please send the invoice to our office before Friday. We will pay it next week.",
    ),
    "en_call.wav": (
        "en-us",
        150,
        "Thank you for calling the support line. My name is Anna and I will help you today. "
        "Could you please tell me your customer number? The parcel was sent on Monday and "
        "should arrive within three days. If the delivery is late, we will refund the shipping "
        "costs. Our office is open from nine in the morning until five in the evening. Is there "
        "anything else I can do for you? Have a nice day and goodbye.",
    ),
    "de_coffee.wav": (
        "de",
        140,
        "Guten Morgen. Ich möchte eine Tasse Kaffee und ein Stück Kuchen, bitte.",
    ),
}


def fixture_path(name: str) -> Path:
    return FIXTURES / name


def spoken_text(name: str) -> str:
    return SPEECH[name][2]
