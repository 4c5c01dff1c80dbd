"""Tokenizer for the SOQL subset: one pass over the text, every token keeps its offset for error messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum

from orgsim.soql.errors import malformed

MAX_QUERY_LENGTH = 100_000


class Kind(Enum):
    IDENT = "identifier"
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    OP = "operator"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    DOT = "."
    COLON = ":"
    EOF = "<EOF>"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str  # the source text of the token (strings: the content between the quotes, escapes undecoded)
    value: object  # decoded value: str, int/float, date, datetime; identifiers: the text
    pos: int

    def is_word(self, *words: str) -> bool:
        return self.kind is Kind.IDENT and self.text.upper() in words

    def describe(self) -> str:
        """How Salesforce names the token in `unexpected token: ...`."""
        if self.kind is Kind.EOF:
            return "<EOF>"
        if self.kind is Kind.STRING:
            return f"'{self.text}'"
        return f"'{self.text}'"


_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TIME_RE = re.compile(r"T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})", re.IGNORECASE)
_NUMBER_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\", "_": "_", "%": "%"}


def tokenize(soql: str) -> list[Token]:
    if len(soql) > MAX_QUERY_LENGTH:
        raise malformed(soql[:200], 0, "SOQL statements cannot be longer than 100,000 characters.")
    tokens: list[Token] = []
    i, n = 0, len(soql)
    while i < n:
        ch = soql[i]
        if ch in " \t\r\n\f":
            i += 1
            continue
        start = i
        if ch == "'":
            i, text, value = _read_string(soql, i)
            tokens.append(Token(Kind.STRING, text, value, start))
            continue
        m = _DATE_RE.match(soql, i)
        if m and not (i > 0 and (soql[i - 1].isalnum() or soql[i - 1] == "_")):
            i, token = _read_date_or_datetime(soql, m)
            tokens.append(token)
            continue
        if ch.isdigit() or (ch in "+-." and i + 1 < n and (soql[i + 1].isdigit() or soql[i + 1] == ".")):
            m = _NUMBER_RE.match(soql, i)
            if m and m.end() > i and any(c.isdigit() for c in m.group()):
                text = m.group()
                if len(text) > 40:
                    raise malformed(soql, start, f"number literal out of range: '{text[:40]}...'")
                number: int | float = float(text) if any(c in text for c in ".eE") else int(text)
                i = m.end()
                if i < n and (soql[i].isalpha() or soql[i] == "_"):
                    raise malformed(soql, i, f"unexpected token: '{soql[start : _word_end(soql, i)]}'")
                tokens.append(Token(Kind.NUMBER, text, number, start))
                continue
        m = _IDENT_RE.match(soql, i)
        if m:
            tokens.append(Token(Kind.IDENT, m.group(), m.group(), start))
            i = m.end()
            continue
        two = soql[i : i + 2]
        if two in ("!=", "<>", "<=", ">="):
            tokens.append(Token(Kind.OP, two, two, start))
            i += 2
            continue
        if ch in "=<>":
            tokens.append(Token(Kind.OP, ch, ch, start))
            i += 1
            continue
        single = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA, ".": Kind.DOT, ":": Kind.COLON}
        if ch in single:
            tokens.append(Token(single[ch], ch, ch, start))
            i += 1
            continue
        raise malformed(soql, i, f"no viable alternative at character '{ch}'")
    tokens.append(Token(Kind.EOF, "", None, n))
    return tokens


def _word_end(soql: str, i: int) -> int:
    while i < len(soql) and (soql[i].isalnum() or soql[i] == "_"):
        i += 1
    return i


def _read_string(soql: str, start: int) -> tuple[int, str, str]:
    i = start + 1
    out: list[str] = []
    while i < len(soql):
        ch = soql[i]
        if ch == "\\":
            if i + 1 >= len(soql):
                break
            nxt = soql[i + 1]
            if nxt == "u":
                hex_digits = soql[i + 2 : i + 6]
                if len(hex_digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in hex_digits):
                    out.append(chr(int(hex_digits, 16)))
                    i += 6
                    continue
            if nxt not in _ESCAPES:
                raise malformed(
                    soql, i, "Invalid string literal '" + soql[start + 1 : i + 2] + "'. Illegal escape sequence."
                )
            # LIKE needs to tell an escaped % or _ from a wildcard: keep the backslash in `text`, decode in value.
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        if ch == "'":
            return i + 1, soql[start + 1 : i], "".join(out)
        out.append(ch)
        i += 1
    raise malformed(soql, start, "line 1:" + str(start) + " mismatched character '<EOF>' expecting '''")


def _read_date_or_datetime(soql: str, m: re.Match[str]) -> tuple[int, Token]:
    start = m.start()
    try:
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise malformed(soql, start, f"value of date literal '{m.group()}' is not a valid date") from None
    t = _TIME_RE.match(soql, m.end())
    if not t:
        end = m.end()
        if end < len(soql) and (soql[end].isalnum() or soql[end] in "_:"):
            raise malformed(soql, start, f"unexpected token: '{soql[start : _word_end(soql, end)]}'")
        return end, Token(Kind.DATE, m.group(), day, start)
    hour, minute, second = int(t.group(1)), int(t.group(2)), int(t.group(3))
    fraction = t.group(4) or ""
    zone = t.group(5).upper()
    try:
        if zone == "Z":
            tz = UTC
        else:
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
        moment = datetime(day.year, day.month, day.day, hour, minute, second, micro, tzinfo=tz).astimezone(UTC)
    except ValueError:
        text = soql[start : t.end()]
        raise malformed(soql, start, f"value of datetime literal '{text}' is not a valid dateTime") from None
    return t.end(), Token(Kind.DATETIME, soql[start : t.end()], moment, start)
