"""Optional LLM answers, written only from retrieved passages and checked before anyone sees them.

The extractive answer is always ready; the LLM text replaces it only when every ``[n]`` points to a
retrieved passage, every sentence cites one, and every number in it (phone numbers, dates, section
numbers) appears in a passage it cites.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from bot.corpus import SectionRecord

log = logging.getLogger(__name__)

_MARKER = re.compile(r"\[(\d+)\]")
_NUMBER = re.compile(r"\d[\d\-/.:§()]*\d|\d")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")

PROMPT = """You answer questions from immigrant residents of Chicago using ONLY the numbered passages.
Rules: reply in {language}; at most 5 short, plain sentences; end every sentence with the [n] of the
passage it comes from; never add facts, numbers, dates or phone numbers that are not in the passages;
if the passages do not answer the question, reply exactly NO_ANSWER.

Passages:
{passages}

Question: {question}"""


def check_answer(text: str, passages: Sequence[str]) -> list[str]:
    """Problems that make an LLM answer unusable (empty list = usable)."""
    problems: list[str] = []
    if not text.strip() or "NO_ANSWER" in text:
        return ["no answer"]
    cited: set[int] = set()
    for sentence in filter(None, (s.strip() for s in _SENTENCE_END.split(text))):
        markers = [int(m) for m in _MARKER.findall(sentence)]
        if not markers:
            problems.append(f"sentence without a citation: {sentence[:40]!r}")
        for n in markers:
            if not 1 <= n <= len(passages):
                problems.append(f"[{n}] does not refer to a retrieved passage")
            else:
                cited.add(n)
    support = " ".join(passages[n - 1] for n in cited)
    for number in _NUMBER.findall(_MARKER.sub(" ", text)):
        if number not in support:
            problems.append(f"{number!r} does not appear in a cited passage")
    return problems


class LLMWriter:
    """Writes an answer with a LangChain chat model, within a time limit."""

    def __init__(self, model: Any, timeout_s: float) -> None:
        self.model = model
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="llm")

    @classmethod
    def from_spec(cls, spec: str, timeout_s: float) -> LLMWriter:
        """``provider:model`` through ``init_chat_model`` (the provider's package must be installed)."""
        from langchain.chat_models import init_chat_model

        return cls(init_chat_model(spec), timeout_s)

    def write(self, question: str, language: str, sections: Sequence[SectionRecord]) -> str | None:
        """The checked answer, or None (the caller then uses the extractive answer)."""
        passages = [f"{s.heading}\n{s.text}" for s in sections]
        prompt = PROMPT.format(
            language="Spanish" if language == "es" else "English",
            passages="\n\n".join(f"[{i}] {p}" for i, p in enumerate(passages, 1)),
            question=question,
        )
        future = self._pool.submit(self.model.invoke, prompt)
        try:
            message = future.result(timeout=self.timeout_s)
        except FutureTimeout:
            log.warning("LLM answer timed out; using the extractive answer")
            return None
        except Exception as err:  # any provider failure falls back to the vetted extract
            log.warning("LLM answer failed (%s); using the extractive answer", type(err).__name__)
            return None
        text = str(getattr(message, "content", message)).strip()
        problems = check_answer(text, passages)
        if problems:
            log.info(
                "LLM answer rejected (%d problems); using the extractive answer", len(problems)
            )
            return None
        return text
