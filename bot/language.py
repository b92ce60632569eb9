"""Offline language detection for short resident questions (lingua), with a caller preference."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector

#: Languages we tell apart. Only en and es get full answers; the rest get English plus a notice.
_CANDIDATES = [
    "ENGLISH",
    "SPANISH",
    "FRENCH",
    "PORTUGUESE",
    "POLISH",
    "ARABIC",
    "CHINESE",
    "RUSSIAN",
    "UKRAINIAN",
    "HINDI",
    "URDU",
    "VIETNAMESE",
    "TAGALOG",
    "KOREAN",
    "GERMAN",
    "ITALIAN",
    "SOMALI",
    "SWAHILI",
]
#: Names and acronyms that Spanish speakers write in English; they would tip detection to English.
_SHARED_TERMS = re.compile(
    r"\b(?:ice|trust|act|illinois|chicago|cook|county|green|card|daca|tvdl|cpd|dhs|cbp|uscis|sheriff|"
    r"notario|welcoming|city|way|forward|bivens|midway|blitz|i-\d+|\d+\w*)\b",
    re.IGNORECASE,
)
#: Below this confidence a text falls back to the chat's language (or the default).
MIN_CONFIDENCE = 0.35
#: A message with fewer letters than this is "short": detection must be this sure to override the
#: chat's language ("ok", "gracias", "y en la escuela?" keep the chat's language).
SHORT_LETTERS = 15
SHORT_CONFIDENCE = 0.9
#: Without a chat language, a short message needs this much to leave the default ("ok" is not Swahili).
SHORT_MIN_CONFIDENCE = 0.5
#: Latin-script words are the ambiguous ones; a short message in another script is clear.
_LATIN = re.compile(r"[A-Za-zÀ-ɏ]")


@dataclass(frozen=True)
class Decision:
    """The reply language and how it was chosen (``choice``, ``detected``, ``prior``, ``default``)."""

    lang: str
    reason: str
    confidence: float


#: A supported language this close to an unsupported best guess wins.
PREFER_RATIO = 0.5


class LanguageDetector_:
    """Detects the ISO 639-1 code of a text; ``default`` when it cannot tell."""

    def __init__(self, default: str = "en", prefer: tuple[str, ...] = ("en", "es")) -> None:
        self.default = default
        self.prefer = prefer
        self._detector: LanguageDetector | None = None
        self._lock = threading.Lock()

    def _get(self) -> LanguageDetector:
        with self._lock:
            if self._detector is None:
                from lingua import Language, LanguageDetectorBuilder

                languages = [getattr(Language, name) for name in _CANDIDATES]
                self._detector = (
                    LanguageDetectorBuilder.from_languages(*languages)
                    .with_preloaded_language_models()
                    .build()
                )
            return self._detector

    def warm_up(self) -> None:
        """Load the language models now rather than on the first question."""
        self._get()

    def detect(self, text: str) -> str:
        """The language of ``text`` (``default`` for empty, emoji-only or unclear text)."""
        code, confidence = self.detect_with_confidence(text)
        return code if code and confidence >= MIN_CONFIDENCE else self.default

    def detect_with_confidence(self, text: str) -> tuple[str, float]:
        """The most likely language of ``text`` and lingua's confidence (``("", 0.0)`` if none)."""
        text = _SHARED_TERMS.sub(" ", text)
        letters = sum(ch.isalpha() for ch in text)
        if letters < 2:
            return "", 0.0
        values = self._get().compute_language_confidence_values(text)
        if not values:
            return "", 0.0
        best = values[0]
        code = str(best.language.iso_code_639_1.name.lower())
        if code not in self.prefer:
            # short Spanish is often read as Portuguese or Italian: prefer a close supported language
            for value in values[1:]:
                other = str(value.language.iso_code_639_1.name.lower())
                if other in self.prefer and value.value >= PREFER_RATIO * best.value:
                    return other, float(value.value)
        return code, float(best.value)

    def decide(self, text: str, choice: str | None = None, prior: str | None = None) -> Decision:
        """The reply language: the chat's explicit choice, else a confident detection, else the
        chat's current language (``prior``: its last language or Telegram's ``language_code``)."""
        if choice:
            return Decision(choice.lower()[:2], "choice", 1.0)
        code, confidence = self.detect_with_confidence(text)
        letters = _SHARED_TERMS.sub(" ", text)
        ambiguous = (
            bool(_LATIN.search(letters)) and sum(ch.isalpha() for ch in letters) < SHORT_LETTERS
        )
        if not ambiguous and code:
            return Decision(code, "detected", confidence)
        needed = SHORT_CONFIDENCE if prior else SHORT_MIN_CONFIDENCE
        if code and confidence >= needed:
            return Decision(code, "detected", confidence)
        if prior:
            return Decision(prior.lower()[:2], "prior", confidence)
        return Decision(self.default, "default", confidence)
