"""Offline language detection for short resident questions (lingua), with a caller preference."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector

#: Languages we tell apart. Only en and es get full answers; the rest get English plus a notice.
_CANDIDATES = (
    "ENGLISH SPANISH FRENCH PORTUGUESE POLISH ARABIC CHINESE RUSSIAN UKRAINIAN HINDI URDU "
    "VIETNAMESE TAGALOG KOREAN GERMAN ITALIAN SOMALI SWAHILI"
).split()
#: Below this confidence a short text falls back to the default language.
MIN_CONFIDENCE = 0.35


class LanguageDetector_:
    """Detects the ISO 639-1 code of a text; ``default`` when it cannot tell."""

    def __init__(self, default: str = "en") -> None:
        self.default = default
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
        letters = sum(ch.isalpha() for ch in text)
        if letters < 2:
            return self.default
        values = self._get().compute_language_confidence_values(text)
        if not values:
            return self.default
        best = values[0]
        if best.value < MIN_CONFIDENCE:
            return self.default
        return str(best.language.iso_code_639_1.name.lower())
