"""Optional LLM answers, written only from retrieved passages and checked before anyone sees them.

The extractive answer is always ready; the LLM text replaces it only when every ``[n]`` points to a
retrieved passage, every sentence cites one, and every number and legal citation in it (phone
numbers, dates, section numbers, "8 U.S.C. § 1362", "5 ILCS 805/15") appears as a whole token in a
passage it cites.

Fail safe: any failure (the provider's package missing, no credentials, a timeout, an error, bad
output) means ``write`` returns None and the caller quotes the vetted text. Each failure is logged
once, by type only, never with the question or the model's text. A call that passes its time limit
is cancelled (the model's async API runs under ``asyncio.wait_for``), so nothing keeps running.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

from bot.corpus import SectionRecord

log = logging.getLogger(__name__)

_MARKER = re.compile(r"\[(\d+)\]")
#: A number as one token: "1-855-435-7693", "2026-11-26", "5/22-105", "104-0288", "3.5", "1,000".
_NUMBER = re.compile(r"(?<![\w])\d+(?:[\-/.:,]\d+)*(?![\w])")
#: A legal citation: "8 U.S.C. § 1362", "5 ILCS 805/15", "8 CFR 287.7", "Public Act 104-0288".
_CITATION = re.compile(
    r"(?:(\d+)\s*(U\.?\s?S\.?\s?C\.?|ILCS|C\.?\s?F\.?\s?R\.?)\s*(?:§+\s*)?"
    r"(\d+[\w./\-()]*)|(Public\s+Act)\s+(\d+[\-\d]*)|(§+)\s*(\d+[\w./\-()]*))",
    re.IGNORECASE,
)
#: A sentence ends at . ! ? before a capital letter or an opening mark ("8 U.S.C. § 1362" and
#: "Jan. 5" do not end one).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÁÉÍÓÚÑÜ¿¡\"“(])|\n+")

PROMPT = """You answer questions from immigrant residents of Chicago using ONLY the numbered passages.
Rules: reply in {language}; at most 5 short, plain sentences; end every sentence with the [n] of the
passage it comes from; never add facts, numbers, dates or phone numbers that are not in the passages;
if the passages do not answer the question, reply exactly NO_ANSWER.

Passages:
{passages}

Question: {question}"""


def number_tokens(text: str) -> set[str]:
    """Every number in ``text`` as a whole token (a trailing full stop is not part of it)."""
    return {m.rstrip(".,:") for m in _NUMBER.findall(text)}


def citation_tokens(text: str) -> set[str]:
    """Every legal citation in ``text``, normalised ("8 usc 1362", "5 ilcs 805/15", "§ 1362")."""
    found: set[str] = set()
    for m in _CITATION.finditer(text):
        if m.group(1):
            code = re.sub(r"[\s.]", "", m.group(2)).lower()
            found.add(f"{m.group(1)} {code} {m.group(3).rstrip('.,').lower()}")
        elif m.group(4):
            found.add(f"public act {m.group(5)}")
        else:
            found.add(f"§ {m.group(7).rstrip('.,').lower()}")
    return found


def check_answer(text: str, passages: Sequence[str]) -> list[str]:
    """Problems that make an LLM answer unusable (empty list = usable)."""
    problems: list[str] = []
    if not text.strip() or "NO_ANSWER" in text:
        return ["no answer"]
    cited: set[int] = set()
    for sentence in filter(None, (s.strip() for s in _SENTENCE_END.split(text))):
        markers = [int(m) for m in _MARKER.findall(sentence)]
        if not markers:
            problems.append("a sentence without a citation")
        for n in markers:
            if not 1 <= n <= len(passages):
                problems.append(f"[{n}] does not refer to a retrieved passage")
            else:
                cited.add(n)
    support = " ".join(passages[n - 1] for n in cited)
    body = _MARKER.sub(" ", text)
    missing_numbers = number_tokens(body) - number_tokens(support)
    problems += ["a number that is not in a cited passage"] * len(missing_numbers)
    missing_citations = citation_tokens(body) - citation_tokens(support)
    problems += ["a legal citation that is not in a cited passage"] * len(missing_citations)
    return problems


class LLMWriter:
    """Writes an answer with a LangChain chat model, within a time limit; never raises."""

    def __init__(self, model: Any, timeout_s: float) -> None:
        self.model = model
        self.timeout_s = timeout_s
        self.failure = ""  # why the model could not be built ("" when it was)
        self._logged: set[str] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        """One event loop in a daemon thread for every call: a provider's async client stays
        bound to the loop it was first used on."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="llm", daemon=True).start()
                self._loop = loop
            return self._loop

    @classmethod
    def from_spec(cls, spec: str, timeout_s: float) -> LLMWriter:
        """``provider:model`` through ``init_chat_model``. When the model cannot be built (the
        provider's package is missing, no credentials, a bad spec), the writer is disabled: it
        logs that once and every answer stays extractive."""
        writer = cls(None, timeout_s)
        try:
            from langchain.chat_models import init_chat_model

            writer.model = init_chat_model(spec)
        except Exception as err:  # ImportError, ValueError, a provider's own errors: all the same
            writer._once(f"init:{type(err).__name__}", "LLM unavailable (%s); answers stay quoted")
            writer.failure = type(err).__name__
        return writer

    def _once(self, key: str, message: str) -> None:
        """Log ``message`` (with the failure's type in ``key``) the first time only."""
        with self._lock:
            if key in self._logged:
                return
            self._logged.add(key)
        log.warning(message, key.split(":", 1)[1])

    def write(self, question: str, language: str, sections: Sequence[SectionRecord]) -> str | None:
        """The checked answer, or None (the caller then uses the extractive answer)."""
        if self.model is None:
            return None
        passages = [f"{s.heading}\n{s.text}" for s in sections]
        prompt = PROMPT.format(
            language="Spanish" if language == "es" else "English",
            passages="\n\n".join(f"[{i}] {p}" for i, p in enumerate(passages, 1)),
            question=question,
        )
        future = asyncio.run_coroutine_threadsafe(self._ask(prompt), self._event_loop())
        try:
            # the coroutine cancels itself at timeout_s; this wait is only a backstop
            message = future.result(self.timeout_s + 1.0)
        except TimeoutError:
            future.cancel()
            self._once("timeout:TimeoutError", "LLM answer timed out (%s); using the quoted answer")
            return None
        except Exception as err:  # any provider failure falls back to the vetted extract
            self._once(
                f"call:{type(err).__name__}", "LLM answer failed (%s); using the quoted answer"
            )
            return None
        content = getattr(message, "content", None)
        if not isinstance(content, str):
            self._once("output:not text", "LLM answer unusable (%s); using the quoted answer")
            return None
        text = content.strip()
        problems = check_answer(text, passages)
        if problems:
            log.info("LLM answer rejected (%d problems); using the quoted answer", len(problems))
            return None
        return text

    async def _ask(self, prompt: str) -> Any:
        """The model's reply; cancelled (not abandoned) when the time limit passes."""
        return await asyncio.wait_for(self.model.ainvoke(prompt), self.timeout_s)
