"""Personal details in a message: found, cut out before anything else reads the text, never echoed.

Residents sometimes paste an A-number, a phone number or a name into the chat. The bot needs none
of it to answer, so every match is replaced by ``…`` before language detection, embedding, the
LLM or the reply's ``question`` field see the text, and the reply says in one line not to send
such details. Nothing here is stored or logged.

Readable patterns rather than a named-entity model: the kinds of data are few and well formed
(numbers, e-mail, a street address, a name after "my name is"), the patterns work in every
language the bot hears, and a model would add a download and guess at names in questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.texts import PUBLIC_NUMBERS

MASK = "…"

_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    # USCIS receipt numbers: three letters and ten digits (IOE, MSC, EAC, WAC, LIN, SRC, NBC, YSC)
    "receipt": re.compile(r"\b[A-Z]{3}[\s-]?\d{10}\b", re.IGNORECASE),
    # Alien registration number: A and 8 or 9 digits, often written A-123-456-789 or A# 123456789
    "a_number": re.compile(
        r"(?<![\w-])A\s?(?:#|-|no\.?|number)?\s?(?:\d[\s-]?){7,8}\d\b", re.IGNORECASE
    ),
    "ssn": re.compile(r"\b\d{3}[-\s]\d{2}[-\s]\d{4}\b"),
    "phone": re.compile(r"(?<![\w-])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}\b"),
    # any other long number (a case, passport or account number)
    "number": re.compile(r"\b\d(?:[\s-]?\d){6,}\b"),
    "address": re.compile(
        r"\b\d{1,6}\s+(?:[NSEW]\.?\s+)?(?:[A-Za-zÁÉÍÓÚÑáéíóúñ0-9'.]+\s+){0,3}"
        r"(?:st|street|ave|avenue|rd|road|blvd|boulevard|dr|drive|ln|lane|ct|court|pl|place|"
        r"pkwy|parkway|way|ter|terrace|hwy|highway)\b\.?(?:\s*(?:apt|unit|#)\s*\w+)?",
        re.IGNORECASE,
    ),
    "calle": re.compile(
        r"\b(?:calle|avenida|av\.|ave\.)\s+(?:[A-Za-zÁÉÍÓÚÑáéíóúñ'.]+\s+){0,3}\d{1,6}\b",
        re.IGNORECASE,
    ),
    # a name someone gives: "my name is Ana Lopez", "me llamo Juan Pérez", "nazywam się ..."
    # (the cue ignores case; the name is one word, then only capitalised words)
    "name": re.compile(
        r"\b(?i:my name is|my name's|i am called|me llamo|mi nombre es|se llama|his name is|"
        r"her name is|nazywam się|мене звати|mi pangalan ay|ang pangalan ko ay)\s+"
        r"(\w[\w'-]+(?:\s+[A-ZÁÉÍÓÚÑ][\w'-]+){0,3})"
    ),
}


@dataclass(frozen=True)
class Redaction:
    """The message with personal details masked, and which kinds were found (never the values)."""

    text: str
    kinds: tuple[str, ...]

    @property
    def found(self) -> bool:
        """True when the message carried personal details."""
        return bool(self.kinds)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


_PUBLIC = {_digits(n)[-10:] for n in PUBLIC_NUMBERS if len(_digits(n)) >= 10}


def redact(text: str) -> Redaction:
    """``text`` with every personal detail replaced by ``…`` (help-line numbers are kept)."""
    kinds: list[str] = []
    for kind, pattern in _PATTERNS.items():

        def mask(m: re.Match[str], kind: str = kind) -> str:
            if kind in ("phone", "number") and _digits(m.group(0))[-10:] in _PUBLIC:
                return m.group(0)
            kinds.append(kind)
            if kind == "name":
                return m.group(0)[: m.start(1) - m.start(0)] + MASK
            return MASK

        text = pattern.sub(mask, text)
    return Redaction(text, tuple(dict.fromkeys(kinds)))
