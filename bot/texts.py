"""Fixed reply texts of the answer engine, in every language the bot fully supports."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

SUPPORTED = ("en", "es")
DEFAULT = "en"

HOTLINE = "1-855-435-7693"

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "footer": (
            "This is general information, not legal advice. For help with your own situation, "
            f"call the family support hotline {HOTLINE} or talk to an immigration lawyer."
        ),
        "no_answer": (
            "I don't have vetted information on that, so I won't guess. "
            "I can only answer from checked know-your-rights documents."
        ),
        "declined": (
            "I can't help with that. I don't have vetted information on it, and I only give "
            "information about your own rights."
        ),
        "can_help": "I can help with:",
        "help_line": (
            f"To talk to a person, call the family support hotline: {HOTLINE}. "
            "In an emergency, call 911."
        ),
        "empty": (
            "Please type your question in a few words, for example: "
            '"Can Chicago police ask about my immigration status?"'
        ),
        "other_language": (
            "I can answer in English and Spanish (español). Here is the answer in English."
        ),
        "unavailable": (
            "Sorry, I can't reach my information right now. Please try again in a few minutes. "
            f"If you need help now, call the family support hotline: {HOTLINE}. "
            "In an emergency, call 911."
        ),
        "sources": "Sources",
        "checked_on": "checked on",
        "urgent_more": "More information:",
        "urgent_english_only": "",
        "translation_unreviewed": (
            "This translation has not yet been reviewed by a native-speaking legal worker."
        ),
        "language_notice": (
            "I can answer in English and Spanish (español). Here is the answer in English."
        ),
    },
    "es": {
        "footer": (
            "Esto es información general, no asesoría legal. Para ayuda con su caso, llame a la "
            f"línea de apoyo familiar {HOTLINE} o hable con un abogado de inmigración."
        ),
        "no_answer": (
            "No tengo información verificada sobre eso, así que no voy a adivinar. "
            "Solo respondo con documentos revisados sobre sus derechos."
        ),
        "declined": (
            "No puedo ayudar con eso. No tengo información verificada sobre ese tema y solo doy "
            "información sobre sus propios derechos."
        ),
        "can_help": "Puedo ayudarle con:",
        "help_line": (
            f"Para hablar con una persona, llame a la línea de apoyo familiar: {HOTLINE}. "
            "En una emergencia, llame al 911."
        ),
        "empty": (
            "Escriba su pregunta en pocas palabras, por ejemplo: "
            '"¿La policía de Chicago me puede preguntar por mi estatus migratorio?"'
        ),
        "other_language": (
            "Puedo responder en inglés y en español. / I can answer in English and Spanish. "
            "Here is the answer in English."
        ),
        "unavailable": (
            "Lo siento, ahora no puedo consultar mi información. Intente de nuevo en unos minutos. "
            f"Si necesita ayuda ahora, llame a la línea de apoyo familiar: {HOTLINE}. "
            "En una emergencia, llame al 911."
        ),
        "sources": "Fuentes",
        "checked_on": "revisado el",
        "urgent_more": "Más información:",
        "urgent_english_only": ("Todavía no tenemos estos pasos en español. Aquí están en inglés."),
        "translation_unreviewed": (
            "Esta traducción todavía no la ha revisado un trabajador legal hablante nativo."
        ),
        "language_notice": (
            "Puedo responder en inglés y en español. / I can answer in English and Spanish. "
            "Here is the answer in English."
        ),
    },
}


LOCALES = Path(__file__).resolve().parent / "locales"


@functools.cache
def _locale(lang: str) -> dict[str, str]:
    """Short texts in a language the bot does not answer in (``bot/locales/<lang>.yaml``)."""
    path = LOCALES / f"{lang}.yaml"
    if not lang.isalpha() or not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text("utf-8")) or {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def text(key: str, lang: str) -> str:
    """The text ``key`` in ``lang``, falling back to English."""
    if lang in _TEXTS:
        return _TEXTS[lang].get(key) or _TEXTS[DEFAULT][key]
    return _locale(lang).get(key) or _TEXTS[DEFAULT][key]


def reply_language(lang: str) -> str:
    """The language a reply is written in: the detected one if supported, else English."""
    return lang if lang in SUPPORTED else DEFAULT
