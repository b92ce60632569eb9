"""Small talk: a greeting, thanks, "ok", "are you a bot?", "can I talk to a person?".

Such messages get a short reply in the chat's language instead of the no-answer text. Only a
message that is small talk as a whole counts ("hola" yes, "hola, ¿me pueden arrestar?" no: that
one is a question). Readable phrase lists rather than a classifier: the set is small, closed and
the same in every chat, and a wrong guess here would hide a real question.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Talk = Literal["greeting", "help", "thanks", "ack", "bye", "bot", "person"]

_PHRASES: dict[Talk, tuple[str, ...]] = {
    "greeting": (
        "hi",
        "hii",
        "hello",
        "hey",
        "hey there",
        "hi there",
        "hello there",
        "good morning",
        "good afternoon",
        "good evening",
        "morning",
        "yo",
        "sup",
        "whats up",
        "start",
        "hola",
        "ola",
        "buenas",
        "buenos dias",
        "buen dia",
        "buenas tardes",
        "buenas noches",
        "que tal",
        "hola que tal",
        "saludos",
        "alo",
        "hi bot",
        "hello bot",
        "hola bot",
        "czesc",
        "dzien dobry",
        "witam",
        "привіт",
        "вітаю",
        "добрий день",
        "привет",
        "你好",
        "您好",
        "嗨",
        "مرحبا",
        "السلام عليكم",
        "سلام",
        "اهلا",
        "kumusta",
        "magandang araw",
        "namaste",
        "नमस्ते",
        "नमस्कार",
        "assalam o alaikum",
        "assalamualaikum",
        "السلام علیکم",
        "안녕하세요",
        "안녕",
        "bonjour",
        "salut",
        "xin chao",
        "ola bom dia",
        "oi",
    ),
    "help": (
        "help",
        "help me",
        "help please",
        "please help",
        "i need help",
        "need help",
        "sos",
        "ayuda",
        "ayudame",
        "ayuda por favor",
        "necesito ayuda",
        "auxilio",
        "socorro",
        "pomocy",
        "pomoc",
        "допоможіть",
        "допомога",
        "救命",
        "帮帮我",
        "帮助",
        "مساعدة",
        "ساعدني",
        "tulong",
        "tulungan mo ako",
        "मदद",
        "मदद करो",
        "مدد",
        "도와주세요",
    ),
    "thanks": (
        "thanks",
        "thank you",
        "thank you so much",
        "thanks a lot",
        "thx",
        "ty",
        "tysm",
        "thank u",
        "thanks bot",
        "gracias",
        "muchas gracias",
        "mil gracias",
        "gracias bot",
        "te agradezco",
        "se lo agradezco",
        "dziekuje",
        "дякую",
        "спасибо",
        "谢谢",
        "謝謝",
        "多谢",
        "شكرا",
        "شكرا جزيلا",
        "salamat",
        "maraming salamat",
        "धन्यवाद",
        "शुक्रिया",
        "shukriya",
        "شکریہ",
        "감사합니다",
        "고마워요",
        "merci",
        "obrigado",
        "obrigada",
        "cam on",
        "god bless",
        "dios le bendiga",
        "dios te bendiga",
        "que dios lo bendiga",
    ),
    "ack": (
        "ok",
        "okay",
        "k",
        "kk",
        "okey",
        "oki",
        "ok thanks",
        "ok thank you",
        "ok gracias",
        "got it",
        "i see",
        "understood",
        "alright",
        "all right",
        "cool",
        "great",
        "good",
        "nice",
        "perfect",
        "vale",
        "bueno",
        "entendido",
        "entiendo",
        "ya",
        "ya entendi",
        "esta bien",
        "muy bien",
        "perfecto",
        "listo",
        "claro",
        "de acuerdo",
        "si",
        "yes",
        "no",
        "dobrze",
        "rozumiem",
        "добре",
        "зрозуміло",
        "好",
        "好的",
        "明白",
        "حسنا",
        "تمام",
        "sige",
        "ठीक है",
        "ٹھیک ہے",
        "알겠습니다",
    ),
    "bye": (
        "bye",
        "goodbye",
        "good bye",
        "see you",
        "good night",
        "adios",
        "hasta luego",
        "chao",
        "chau",
        "nos vemos",
        "hasta pronto",
        "do widzenia",
        "до побачення",
        "再见",
        "مع السلامة",
        "paalam",
        "अलविदा",
        "خدا حافظ",
        "안녕히 계세요",
    ),
    "bot": (
        "are you a bot",
        "are you a robot",
        "are you real",
        "are you human",
        "are you a person",
        "is this a bot",
        "is this a real person",
        "is this a robot",
        "who are you",
        "what are you",
        "are you ai",
        "are you an ai",
        "is this ai",
        "who is this",
        "what can you do",
        "what do you do",
        "how does this work",
        "eres un bot",
        "eres un robot",
        "eres una persona",
        "eres real",
        "eres humano",
        "es un robot",
        "quien eres",
        "quien es",
        "que eres",
        "que puedes hacer",
        "como funciona esto",
        "usted es una persona",
        "es usted un robot",
        "eres inteligencia artificial",
    ),
    "person": (
        "talk to a person",
        "talk to a human",
        "talk to someone",
        "talk to a real person",
        "speak to a person",
        "speak to a human",
        "speak to someone",
        "i want a human",
        "i want to talk to a person",
        "i want to talk to someone",
        "can i talk to a person",
        "can i talk to someone",
        "can i speak to a person",
        "can i speak with someone",
        "is there a person i can talk to",
        "real person please",
        "human please",
        "i need to talk to someone",
        "i need a person",
        "connect me to a person",
        "hablar con una persona",
        "quiero hablar con una persona",
        "quiero hablar con alguien",
        "puedo hablar con una persona",
        "puedo hablar con alguien",
        "necesito hablar con alguien",
        "hablar con alguien",
        "hablar con un humano",
        "una persona real",
        "persona real",
        "necesito hablar con una persona",
        "hay alguien con quien hablar",
    ),
}

_STRIP = re.compile(r"[^\w\s']+")
_SPACE = re.compile(r"\s+")

#: Words that may ride along with small talk without making it a question ("hola bot", "ok!!").
_FILLER = {
    "bot",
    "kyr",
    "please",
    "pls",
    "por",
    "favor",
    "so",
    "much",
    "very",
    "again",
    "amigo",
    "amiga",
    "friend",
    "senor",
    "oh",
    "ah",
    "jaja",
    "haha",
    "lol",
    "u",
    "usted",
}


def _norm(text: str) -> str:
    """Lower case, accents off Latin letters, no punctuation or emoji, single spaces."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFKD", text.lower()):
        if unicodedata.combining(ch) and out and out[-1].isascii():
            continue  # "adiós" -> "adios"; vowel signs of other scripts stay
        out.append(ch)
    plain = unicodedata.normalize("NFC", "".join(out))
    # repeated letters typed for warmth ("holaaa", "thanksss") count once
    plain = re.sub(r"([a-z])\1{2,}", r"\1", plain)
    return _SPACE.sub(" ", _STRIP.sub(" ", plain)).strip()


_LOOKUP: dict[str, Talk] = {}
for _talk, _phrases in _PHRASES.items():
    for _phrase in _phrases:
        _LOOKUP.setdefault(_norm(_phrase), _talk)


#: Asking for a person in a short message ("can I talk to a real person?"); a lawyer is a topic.
_PERSON = re.compile(
    r"\b(?:talk|speak|chat)(?:ing)? (?:to|with) (?:a |an |some )?(?:real |live |actual )?"
    r"(?:person|human|someone|somebody|people|representative)\b"
    r"|\bhablar con (?:una |un |alguien|algun )?(?:persona|humano|alguien|ser humano)"
    r"|\b(?:real|live) (?:person|human)\b|\bpersona real\b"
)


def classify(text: str) -> Talk | None:
    """What kind of small talk the whole message is, or ``None`` for anything else."""
    norm = _norm(text)
    if not norm:
        return None
    if len(norm.split()) <= 10 and _PERSON.search(norm):
        return "person"
    if norm in _LOOKUP:
        return _LOOKUP[norm]
    words = norm.split()
    if len(words) > 9:
        return None
    # "hola gracias", "ok thanks bye", "hi are you a bot": every part is small talk
    found: list[Talk] = []
    i = 0
    while i < len(words):
        for j in range(len(words), i, -1):
            talk = _LOOKUP.get(" ".join(words[i:j]))
            if talk is not None:
                found.append(talk)
                i = j
                break
        else:
            if words[i] not in _FILLER:
                return None
            i += 1
    if not found:
        return None
    # the most useful reply wins: a person, then what the bot is, then the rest in order
    order: tuple[Talk, ...] = ("person", "help", "bot", "thanks", "bye", "greeting", "ack")
    return next(talk for talk in order if talk in found)


#: Words that make a short small-talk message Spanish when nothing else tells the language.
_SPANISH = frozenset(
    [
        "hola",
        "buenas",
        "buenos",
        "buen",
        "gracias",
        "adios",
        "hasta",
        "chao",
        "chau",
        "vale",
        "bueno",
        "entendido",
        "entiendo",
        "listo",
        "claro",
        "acuerdo",
        "ayuda",
        "ayudame",
        "auxilio",
        "socorro",
        "eres",
        "quien",
        "puedes",
        "hablar",
        "persona",
        "quiero",
        "necesito",
        "dios",
        "agradezco",
        "saludos",
        "esta",
        "muy",
        "perfecto",
        "vemos",
        "usted",
        "alguien",
        "funciona",
    ]
)


def spanish(text: str) -> bool:
    """Whether a small-talk message is written in Spanish ("hola", "gracias", "ok gracias")."""
    return bool(_SPANISH & set(_norm(text).split()))
