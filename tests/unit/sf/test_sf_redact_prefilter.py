"""`redact()` skips its patterns for text that holds none of their markers (a 100k-row `explain` redacts 400k
strings). The shortcut must never let a secret through: every pattern's shape is still masked, and on random text
the result equals applying every pattern."""

from __future__ import annotations

import random

import pytest

from cutover.redact import _PATTERNS, MASK, redact

SECRETS = [
    "00D5g000004ElaRAAS!AQ4AQFakeTokenValue.ForTests_123",
    "Authorization: Bearer abcdefgh12345678",
    "BEARER abcdefgh12345678",
    "authorization: OAuth xyz",
    "<sessionId>abc</sessionId>",
    "<urn:SessionID>abc</urn:SessionID>",
    '{"accessToken": "abc"}',
    '{"REFRESH_TOKEN": "abc"}',
    "sf_access_token=abc",
    "SFDX_ACCESS_TOKEN=abc",
    "force://PlatformCLI::5Aep861@example.my.salesforce.com",
]


@pytest.mark.parametrize("text", SECRETS)
def test_every_secret_shape_is_still_masked(text):
    assert MASK in redact(f"before {text} after")


def _reference(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def test_shortcut_equals_the_full_patterns_on_random_text():
    rng = random.Random(11)
    pieces = [
        "00D",
        "5g000004ElaRAAS",
        "!",
        "AQ4.x",
        "bearer ",
        "Bearer",
        "authorization: ",
        "oauth ",
        "<",
        ">",
        "sessionId",
        "/",
        '"',
        "accessToken",
        ": ",
        "SF_ACCESS_TOKEN=",
        "force://",
        "x",
        " ",
        "é",
        "\n",
    ]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        assert redact(text) == _reference(text), text
