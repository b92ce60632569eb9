"""Fast tests of the Telegram adapter's pieces: HTML formatting, callback data, state, ordering."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from telegram import Chat, Update
from telegram import Message as TgMessage

from bot.engine import DocumentInfo, SectionInfo
from bot.reply import Citation, Reply
from bot.settings import BotSettings
from bot.state import State, load_secret
from bot.tg import keyboards
from bot.tg.format import LIMIT, format_reply, format_sources, format_text, size
from bot.tg.order import ChatOrderedProcessor
from bot.ui_texts import ui, ui_language
from tests.test_telegram import balanced


def reply(body: str, **kw: object) -> Reply:
    """A reply with one citation whose strings try to inject markup."""
    citation = Citation(
        n=1,
        title="Title <script>alert(1)</script> & co",
        section="Section <b>bold</b>",
        url="https://example.org/a?x=1&y=2",
        source="knowledge/en/x.md",
        checked_on="2026-11-25",
        doc_id="x",
    )
    return Reply(question="q", language="en", kind="answer", body=body, citations=(citation,), **kw)  # type: ignore[arg-type]


def test_document_strings_are_escaped_and_linked() -> None:
    [message] = format_reply(reply("Use <i>this</i> & that [1]. Unknown marker [7].", footer="f"))
    assert "<script>" not in message and "&lt;script&gt;" in message
    assert "&lt;i&gt;this&lt;/i&gt; &amp; that" in message
    assert '<a href="https://example.org/a?x=1&amp;y=2">[1]</a>' in message
    assert "[7]" in message and balanced(message)


def test_only_http_links_become_links() -> None:
    bad = Citation(1, "T", "S", "javascript:alert(1)", "s", "2026-01-01")
    message = format_reply(Reply("q", "en", "answer", "text [1]", citations=(bad,)))[0]
    assert "<a " not in message and "javascript" not in message.split("T")[0]


@pytest.mark.parametrize("paragraph", ["word & <x> " * 1200, "x" * 9000, "é🙂" * 3000])
def test_long_replies_split_under_the_limit(paragraph: str) -> None:
    messages = format_reply(reply(f"Intro [1].\n\n{paragraph}\n\nEnd [1].", footer="footer"))
    assert len(messages) >= 2
    assert all(size(m) <= LIMIT and balanced(m) for m in messages)
    joined = "".join(messages)
    assert "End" in joined and "footer" in joined


def test_fixed_texts_have_no_html_and_are_escaped() -> None:
    for lang in ("en", "es"):
        for key in ("welcome", "help", "privacy", "talk_to_person", "type_question"):
            assert "<" not in ui(key, lang)
            assert format_text(ui(key, lang))[0].startswith(ui(key, lang)[:10])
    assert "not end-to-end encrypted" in ui("privacy", "en")
    assert "1-877-581-3692" in ui("talk_to_person", "es")
    assert ui_language(None, "es-MX") == "es" and ui_language("fr", None) == "en"
    assert ui("admin_reloaded", "es") == ui("admin_reloaded", "en")


def test_sources_list() -> None:
    doc = DocumentInfo("d", "en", "A & B", "s", "2026-11-25", "https://e.org", "x", False, ())
    [message] = format_sources("Header", [doc], "en")
    assert '<a href="https://e.org">A &amp; B</a> (checked on 2026-11-25)' in message


def test_callback_data_round_trips_and_rejects_tampering() -> None:
    doc = DocumentInfo(
        "agents-at-home", "en", "T", "s", "d", "u", "s", False, (SectionInfo(0, "H"),)
    )
    data = [b.callback_data for row in keyboards.sections(doc, "es").inline_keyboard for b in row]
    assert data == ["sec:es:agents-at-home:0", "back:es"]
    action = keyboards.parse(data[0])
    assert action == keyboards.Action("section", "es", "agents-at-home", 0)
    assert keyboards.parse("fb:n:en:x") == keyboards.Action(
        "feedback", "en", "x", kind="not_helpful"
    )
    for bad in ("", "sec:en:A:0", "sec:en:a:1234", "lang:de", "doc:en:a b", None, 5, "x" * 65):
        assert keyboards.parse(bad) is None
    long_id = "a" * 60
    markup = keyboards.feedback(long_id, "en")
    assert all(
        len(str(b.callback_data or "").encode()) <= 64 for r in markup.inline_keyboard for b in r
    )


def test_votes_and_reasons_name_the_section_within_64_bytes() -> None:
    section = "es/agents-at-home#3"
    votes = keyboards.feedback("agents-at-home", "es", section=section)
    data = [str(b.callback_data) for row in votes.inline_keyboard for b in row]
    assert data == [f"fb:h:es:{section}", f"fb:n:es:{section}", "ppl:es:agents-at-home"]
    vote = keyboards.parse(data[1])
    assert vote == keyboards.Action(
        "vote", "es", "agents-at-home", 3, "not_helpful", section_lang="es"
    )
    assert vote is not None and vote.section_key == section
    why = keyboards.feedback("agents-at-home", "es", section=section, reasons=True)
    rows = [[(b.text, str(b.callback_data)) for b in row] for row in why.inline_keyboard]
    assert [len(r) for r in rows] == [2, 2, 1]  # two reasons a row, then the person
    assert rows[0][0] == (ui("btn_why_wrong", "es"), f"fw:w:es:{section}")
    assert ui("btn_why_wrong", "es") != ui("btn_why_wrong", "en")
    reasons = {keyboards.parse(d).kind for row in rows[:2] for _, d in row}  # type: ignore[union-attr]
    assert reasons == {"wrong", "unclear", "out_of_date", "not_my_question"}
    for bad in (
        "fw:x:es:es/agents-at-home#3",  # no such reason
        "fw:w:es:agents-at-home#3",  # no section language
        "fw:w:es:es/agents-at-home#1234",
        "fw:w:es:ES/agents-at-home#3",
        "fb:n:es:es/agents-at-home",
        "fw:w:es:es/../x#1",
    ):
        assert keyboards.parse(bad) is None, bad
    # every document id length: within 64 bytes; a vote that names the section gets all four
    # reasons; one that cannot falls back to the document
    for length in range(1, 61):
        doc_id = "a" * length
        key = f"en/{doc_id}#123"
        markups = [
            keyboards.feedback(doc_id, "en", section=key),
            keyboards.feedback(doc_id, "en", section=key, reasons=True),
        ]
        data = [str(b.callback_data) for m in markups for r in m.inline_keyboard for b in r]
        assert max(len(d.encode()) for d in data) <= 64
        named = data[0] == f"fb:h:en:{key}"
        assert named or data[0] == f"fb:h:en:{doc_id}" or length > 53
        assert sum(d.startswith("fw:") for d in data) == (4 if named else 0), length


def test_state_is_keyed_by_an_hmac(tmp_path: Path) -> None:
    data = tmp_path / "var"
    settings = BotSettings(data_dir=data)
    secret = load_secret(settings)
    assert load_secret(settings) == secret
    assert stat.S_IMODE((settings.config_dir / "state-secret").stat().st_mode) == 0o600
    given = settings.model_copy(update={"state_secret": SecretStr("s" * 16)})
    assert load_secret(given) == b"s" * 16

    chat, other = 987_654_321_987, 987_654_321_988
    state = State.open(settings)
    try:
        state.set_language(chat, "es")
        assert state.language(chat) == "es" and state.language(other) is None
        assert state.hit(chat, 60, now=0) == 1 and state.hit(chat, 60, now=59) == 2
        assert state.hit(chat, 60, now=61) == 1
        state.add_feedback("doc", "helpful")
        state.add_feedback("doc", "helpful")
        with pytest.raises(ValueError):
            state.add_feedback("doc", "<script>")
        assert state.feedback() == {("doc", "helpful"): 2}
        assert state.key(chat) != state.key(other)
        raw = b"".join(p.read_bytes() for p in data.iterdir() if p.is_file())
        assert str(chat).encode() not in raw
        state.forget(chat)
        assert state.language(chat) is None and state.chats() == 0
        assert state.feedback() == {("doc", "helpful"): 2}
        raw = b"".join(p.read_bytes() for p in data.iterdir() if p.is_file())
        assert state.key(chat).encode() not in raw
    finally:
        state.close()
    assert stat.S_IMODE((data / "state.sqlite3").stat().st_mode) == 0o600


def _update(update_id: int, chat_id: int) -> Update:
    chat = Chat(chat_id, "private")
    return Update(update_id, message=TgMessage(update_id, None, chat))  # type: ignore[arg-type]


async def test_ordered_processor_serialises_each_chat_only() -> None:
    processor = ChatOrderedProcessor(64)
    log: list[tuple[int, int]] = []

    async def work(chat: int, n: int, delay: float) -> None:
        await asyncio.sleep(delay)
        log.append((chat, n))

    async with processor:
        tasks = [
            asyncio.create_task(processor.process_update(_update(i, chat), work(chat, i, d)))
            for i, (chat, d) in enumerate([(1, 0.05), (1, 0.0), (2, 0.0), (1, 0.01), (2, 0.0)])
        ]
        await asyncio.gather(*tasks)
    assert [n for chat, n in log if chat == 1] == [0, 1, 3]
    assert log.index((2, 2)) < log.index((1, 0))  # chat 2 did not wait for chat 1
    assert processor._locks == {}
