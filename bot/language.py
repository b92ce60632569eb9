"""Offline language detection for short resident questions (lingua), with a caller preference."""

from __future__ import annotations

import re
import threading
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
#: Below this confidence a short text falls back to the default language.
MIN_CONFIDENCE = 0.35
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
        text = _SHARED_TERMS.sub(" ", text)
        letters = sum(ch.isalpha() for ch in text)
        if letters < 2:
            return self.default
        values = self._get().compute_language_confidence_values(text)
        if not values:
            return self.default
        best = values[0]
        if best.value < MIN_CONFIDENCE:
            return self.default
        code = str(best.language.iso_code_639_1.name.lower())
        if code not in self.prefer:
            # short Spanish is often read as Portuguese or Italian: prefer a close supported language
            for value in values[1:]:
                other = str(value.language.iso_code_639_1.name.lower())
                if other in self.prefer and value.value >= PREFER_RATIO * best.value:
                    return other
        return code
