"""The optional LLM mode fails safe: LangChain's fake chat models stand in for a provider.

Each failure the audit found or the issue names (a missing provider package, a model that cannot be
built, a timeout, an error, bad output, an invented number or citation) falls back to the quoted
answer and is logged once, without the question or the model's text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from bot.corpus import SectionRecord
from bot.llm import LLMWriter, check_answer, citation_tokens, number_tokens
from bot.settings import BotSettings

MARKER = "ZQXJMARKER123"
PASSAGE = (
    "Call the family support hotline: 1-855-435-7693. Under 8 U.S.C. § 1362 you may have a "
    "lawyer at no cost to the government. The TRUST Act is 5 ILCS 805/15. Bond hearings take "
    "about 4 weeks."
)


def section(text: str = PASSAGE) -> SectionRecord:
    """A retrieved section to write from."""
    return SectionRecord(
        key="en/x#0", lang="en", doc_id="x", index=0, title="T", heading="Help",
        text=text, url="https://e.org", source="knowledge/en/x.md", checked_on="2026-11-26",
        summary="", urgent=False, chunk_ids=(),
    )  # fmt: skip


class SlowChatModel(GenericFakeChatModel):
    """A fake provider whose async call takes ``delay`` seconds (and says whether it finished)."""

    delay: float = 5.0
    finished: list[bool] = Field(default_factory=list)

    async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
        await asyncio.sleep(self.delay)
        self.finished.append(True)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="late [1]."))])


def no_leak(caplog: pytest.LogCaptureFixture) -> None:
    assert MARKER not in caplog.text
    assert all(MARKER not in r.getMessage() for r in caplog.records)


def test_a_checked_answer_is_used() -> None:
    good = (
        "Call the hotline at 1-855-435-7693 [1]. You may have a lawyer under 8 U.S.C. § 1362 [1]."
    )
    writer = LLMWriter(GenericFakeChatModel(messages=iter([AIMessage(content=good)])), 2.0)
    assert writer.write(f"who can help {MARKER}", "en", [section()]) == good


@pytest.mark.parametrize(
    "text",
    [
        "Bond hearings take about 35 days [1].",  # "35" is inside "435": a substring, not a token
        "Call 1-855-435-769 [1].",  # a cut phone number
        "You may have a lawyer under 8 U.S.C. § 1326 [1].",  # another statute
        "The TRUST Act is 5 ILCS 805/16 [1].",
        "Hearings take about 4 weeks [2].",  # no passage [2]
        "Hearings take about 4 weeks.",  # no citation
        "NO_ANSWER",
    ],
)
def test_bad_output_falls_back(text: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert check_answer(text, [PASSAGE])
    writer = LLMWriter(GenericFakeChatModel(messages=iter([AIMessage(content=text)])), 2.0)
    assert writer.write(f"q {MARKER}", "en", [section()]) is None
    no_leak(caplog)
    assert text not in caplog.text


def test_tokens() -> None:
    assert number_tokens("Call 1-855-435-7693. In 2026, 3.5 and 1,000!") == {
        "1-855-435-7693",
        "2026",
        "3.5",
        "1,000",
    }
    assert "35" not in number_tokens(PASSAGE)
    assert citation_tokens(PASSAGE) == {"8 usc 1362", "5 ilcs 805/15"}
    assert citation_tokens("8 USC 1362 and Public Act 104-0288 and § 22-105") == {
        "8 usc 1362",
        "public act 104-0288",
        "§ 22-105",
    }


def test_timeout_cancels_the_call(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    model = SlowChatModel(messages=iter([]), delay=3.0, finished=[])
    writer = LLMWriter(model, 0.3)
    started = time.monotonic()
    assert writer.write(f"q {MARKER}", "en", [section()]) is None
    assert writer.write(f"q {MARKER}", "en", [section()]) is None
    assert time.monotonic() - started < 2.0
    loop = writer._event_loop()
    pending = asyncio.run_coroutine_threadsafe(_other_tasks(), loop).result(2)
    assert pending == 0  # nothing keeps running after its timeout
    time.sleep(3.2)
    assert model.finished == []
    timeouts = [r for r in caplog.records if "timed out" in r.getMessage()]
    assert len(timeouts) == 1  # logged once
    no_leak(caplog)


async def _other_tasks() -> int:
    return len(asyncio.all_tasks()) - 1


def test_provider_errors_fall_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    empty = LLMWriter(GenericFakeChatModel(messages=iter([])), 2.0)  # raises on call
    assert empty.write(f"q {MARKER}", "en", [section()]) is None
    listed = FakeListChatModel(responses=[])  # IndexError inside the provider
    assert LLMWriter(listed, 2.0).write(f"q {MARKER}", "en", [section()]) is None
    not_text = GenericFakeChatModel(messages=iter([AIMessage(content=[{"type": "image"}])]))
    assert LLMWriter(not_text, 2.0).write(f"q {MARKER}", "en", [section()]) is None
    no_leak(caplog)


@pytest.mark.parametrize("spec", ["openai:gpt-4o-mini", "no-such-provider:model", ":"])
def test_a_model_that_cannot_be_built_disables_the_writer(
    spec: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The audit: ``KYR_LLM=openai:gpt-4o-mini`` without the package ended in an ImportError."""
    caplog.set_level(logging.DEBUG)
    writer = LLMWriter.from_spec(spec, 1.0)
    assert writer.model is None and writer.failure
    assert writer.write(f"q {MARKER}", "en", [section()]) is None
    assert writer.write(f"q {MARKER}", "en", [section()]) is None
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and not warnings[0].exc_info
    no_leak(caplog)


@pytest.mark.slow
def test_engine_answers_from_the_documents_when_the_provider_is_missing(
    built_index_settings: BotSettings, real_embedder: Any, tmp_path: Path
) -> None:
    from bot.engine import Engine

    settings = built_index_settings.model_copy(update={"llm": "openai:gpt-4o-mini"})
    engine = Engine(settings, embedder=real_embedder)
    trace = engine.respond("Can Chicago police ask about my immigration status?")
    assert trace.route == "answer" and trace.reply.citations
