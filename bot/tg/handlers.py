"""Telegram handlers, bound to the engine, the state and the settings they need.

Every handler replies in the resident's language and never logs or stores what they wrote. Engine
calls and state calls run in their own thread pools under deadlines (:mod:`bot.tg.safety`); an
unavailable or frozen index becomes a short apology with the help-line, except for an urgent message,
which gets its steps from the scripts loaded at start (:mod:`bot.tg.urgent`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Sequence
from typing import Any

from telegram import (
    BotCommand,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes, filters

from bot import stats as maintainer
from bot import texts
from bot.engine import DocumentInfo, Engine, EngineUnavailable, Trace
from bot.memory import Memory
from bot.reply import Reply
from bot.settings import BotSettings
from bot.state import State
from bot.tg import keyboards
from bot.tg.format import esc, format_reply, format_sources, format_text, link
from bot.tg.safety import (
    Deadlines,
    OnceEach,
    StateUnavailable,
    TapLimiter,
    error_summary,
    normalise,
)
from bot.tg.urgent import UrgentScripts, pattern_situation
from bot.ui_texts import COMMANDS, ui, ui_language, ui_languages
from bot.urgency import Situation
from ingest.store import IndexError_

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

#: Set once a message reached the resident while handling the current update (no apology after).
_delivered: contextvars.ContextVar[bool] = contextvars.ContextVar("delivered", default=False)


class AddressedToBot(filters.MessageFilter):
    """Private chats, or group messages that mention the bot, reply to it, or name it in a command."""

    def filter(self, message: Message) -> bool:
        """True when the bot is meant to answer ``message``."""
        chat = getattr(message, "chat", None)
        if chat is None:
            return False
        if chat.type == ChatType.PRIVATE:
            return True
        try:
            return self._addressed(message)
        except (UnicodeError, ValueError, IndexError):  # lone surrogates, entities out of range
            name = f"@{message.get_bot().username}".lower()
            return name in (message.text or message.caption or "").lower()

    @staticmethod
    def _addressed(message: Message) -> bool:
        bot = message.get_bot()
        reply_to = message.reply_to_message
        if reply_to and reply_to.from_user and reply_to.from_user.id == bot.id:
            return True
        name = f"@{bot.username}".lower()
        for entity, value in message.parse_entities().items():
            if entity.type == MessageEntity.MENTION and value.lower() == name:
                return True
            if (
                entity.type == MessageEntity.TEXT_MENTION
                and entity.user
                and entity.user.id == bot.id
            ):
                return True
            if entity.type == MessageEntity.BOT_COMMAND and value.lower().endswith(name):
                return True
        for entity, value in message.parse_caption_entities().items():
            if entity.type == MessageEntity.MENTION and value.lower() == name:
                return True
        return False


NON_TEXT = (
    filters.VOICE
    | filters.AUDIO
    | filters.PHOTO
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.Sticker.ALL
    | filters.Document.ALL
    | filters.LOCATION
    | filters.VENUE
    | filters.CONTACT
)
#: Sound and moving pictures: the bot cannot listen, so it gives the hotline and asks for text.
SPOKEN = filters.VOICE | filters.AUDIO | filters.VIDEO | filters.VIDEO_NOTE


class Handlers:
    """The bot's behaviour: one method per command, button and kind of message."""

    def __init__(self, settings: BotSettings, engine: Engine, state: State) -> None:
        self.settings = settings
        self.engine = engine
        self.state = state
        self.deadlines = Deadlines(
            settings.engine_timeout_s, settings.state_timeout_s, settings.engine_workers
        )
        self.scripts = UrgentScripts.load(settings.knowledge_dir)
        self.taps = TapLimiter(settings.rate_limit_taps, settings.rate_limit_window_s)
        self.feedback_given = OnceEach()
        # the last turns of each chat, for follow-ups: process memory only, expiring after 15
        # idle minutes, cleared by /forget (bot/memory.py)
        self.memory = Memory()

    # -- helpers ---------------------------------------------------------------------------------

    async def language(self, update: Update) -> str:
        """The chat's chosen language, else the Telegram app's, else English."""
        chat, user = update.effective_chat, update.effective_user
        chosen = await self.chosen_language(chat.id) if chat else None
        return ui_language(chosen, user.language_code if user else None)

    async def chosen_language(self, chat_id: int) -> str | None:
        """The language the chat chose, or None (also when the state cannot be read in time)."""
        try:
            return await self.deadlines.state(self.state.language, chat_id)
        except StateUnavailable:
            return None

    async def set_language(self, chat_id: int, lang: str) -> None:
        """Remember the chat's language if the state can be written in time."""
        with contextlib.suppress(StateUnavailable):
            await self.deadlines.state(self.state.set_language, chat_id, lang)

    @staticmethod
    async def send(
        context: Context,
        chat_id: int,
        messages: Sequence[str],
        markup: InlineKeyboardMarkup | None = None,
        reply_to: int | None = None,
    ) -> None:
        """Send HTML messages in order; the keyboard goes under the last one."""
        for i, body in enumerate(messages):
            last = i == len(messages) - 1
            await context.bot.send_message(
                chat_id,
                body,
                reply_markup=markup if last else None,
                reply_parameters=(
                    ReplyParameters(reply_to, allow_sending_without_reply=True)
                    if reply_to and i == 0
                    else None
                ),
            )
            _delivered.set(True)

    async def send_reply(
        self, context: Context, chat_id: int, reply: Reply, reply_to: int | None = None
    ) -> None:
        """An engine reply with its buttons: feedback under an answer, the topics (paged) and a
        person under a reply that had no answer, none under small talk."""
        lang = texts.reply_language(reply.language)
        markup: InlineKeyboardMarkup | None = None
        if reply.kind in ("answer", "urgent"):
            first = reply.citations[0] if reply.citations else None
            doc_id = first.doc_id if first else ""
            section = (
                f"{first.lang}/{first.doc_id}#{first.section_index}"
                if first and first.lang and first.doc_id
                else ""
            )
            markup = keyboards.feedback(doc_id, lang, section=section)
        elif reply.kind in ("no_answer", "declined"):
            try:
                markup = keyboards.topics(await self.catalog(lang), lang, person=True)
            except EngineUnavailable:
                markup = None
        await self.send(context, chat_id, format_reply(reply), markup, reply_to)

    async def apologise(self, context: Context, chat_id: int, lang: str, err: Exception) -> None:
        """Tell the resident the information is unavailable, with the help-line."""
        log.warning("engine unavailable: %s", type(err).__name__)
        await self.send(context, chat_id, format_text(texts.text("unavailable", lang)))

    async def catalog(self, lang: str) -> list[DocumentInfo]:
        """The documents in ``lang``, read off the event loop under the deadline."""
        return await self.deadlines.engine(self.engine.catalog, lang)

    async def urgent_language(self, text: str, choice: str | None, prior: str | None) -> str:
        """The language of an urgent message for the built-in scripts (detection is local and
        quick; if even that fails, the chat's or the app's language)."""
        try:
            decision = await asyncio.wait_for(
                asyncio.to_thread(self.engine.detector.decide, text, choice, prior), 2.0
            )
            return str(decision.lang)
        except Exception as err:  # detection is a nicety here; the steps matter
            log.info("language detection for the urgent steps failed: %s", type(err).__name__)
            return ui_language(choice, prior)

    def sections_message(self, doc: DocumentInfo, lang: str) -> str:
        """The header shown above a topic's sections."""
        title = link(f"<b>{esc(doc.title)}</b>", doc.url)
        return f"{title}\n{esc(doc.summary)}\n\n{esc(ui('sections_header', lang))}"

    # -- start-up --------------------------------------------------------------------------------

    async def post_init(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Register the command menu; a failure here is cosmetic, so it is logged and ignored."""
        for lang in ui_languages():
            commands = [BotCommand(c, ui(f"cmd_{c}", lang)) for c in COMMANDS]
            code = None if lang == texts.DEFAULT else lang
            try:
                await app.bot.set_my_commands(commands, language_code=code)
            except TelegramError as err:
                log.warning("could not set the command menu (%s): %s", lang, err)

    # -- commands --------------------------------------------------------------------------------

    async def start(self, update: Update, context: Context) -> None:
        """Welcome the resident; follow a deep link to a language or a topic."""
        chat = update.effective_chat
        if chat is None:
            return
        payload = context.args[0] if context.args else ""
        topic_lang: str | None = None
        topic = ""
        if payload in texts.SUPPORTED:
            await self.set_language(chat.id, payload)
        elif payload.startswith("topic-"):
            topic, _, suffix = payload.removeprefix("topic-").partition("_")
            topic_lang = suffix if suffix in texts.SUPPORTED else None
        lang = topic_lang or await self.language(update)
        await self.send(context, chat.id, format_text(ui("welcome", lang)), keyboards.welcome(lang))
        if topic:
            await self.show_topic(context, chat.id, topic, lang)

    async def show_topic(self, context: Context, chat_id: int, doc_id: str, lang: str) -> None:
        """Send a topic's sections, or all topics if there is no such topic."""
        try:
            docs = await self.catalog(lang)
        except EngineUnavailable as err:
            await self.apologise(context, chat_id, lang, err)
            return
        doc = next((d for d in docs if d.id == doc_id), None)
        if doc is None:
            header = esc(ui("unknown_link", lang))
            await self.send(context, chat_id, [header], keyboards.topics(docs, lang))
            return
        await self.send(
            context, chat_id, [self.sections_message(doc, lang)], keyboards.sections(doc, lang)
        )

    async def topics(self, update: Update, context: Context) -> None:
        """List the topics as buttons."""
        if update.effective_chat:
            await self.send_topics(context, update.effective_chat.id, await self.language(update))

    async def send_topics(self, context: Context, chat_id: int, lang: str) -> None:
        """Send the topics keyboard in ``lang``."""
        try:
            docs = await self.catalog(lang)
        except EngineUnavailable as err:
            await self.apologise(context, chat_id, lang, err)
            return
        header = esc(ui("topics_header", lang))
        await self.send(context, chat_id, [header], keyboards.topics(docs, lang))

    async def choose_language(self, update: Update, context: Context) -> None:
        """Offer the supported languages."""
        if update.effective_chat:
            lang = await self.language(update)
            prompt = format_text(ui("language_prompt", lang))
            await self.send(context, update.effective_chat.id, prompt, keyboards.languages())

    async def help(self, update: Update, context: Context) -> None:
        """Explain how to use the bot."""
        if update.effective_chat:
            lang = await self.language(update)
            await self.send(context, update.effective_chat.id, format_text(ui("help", lang)))

    async def privacy(self, update: Update, context: Context) -> None:
        """Say what is kept and what is not."""
        if update.effective_chat:
            lang = await self.language(update)
            await self.send(context, update.effective_chat.id, format_text(ui("privacy", lang)))

    async def sources(self, update: Update, context: Context) -> None:
        """List the documents and when each was checked."""
        chat = update.effective_chat
        if chat is None:
            return
        lang = await self.language(update)
        try:
            docs = await self.catalog(lang)
        except EngineUnavailable as err:
            await self.apologise(context, chat.id, lang, err)
            return
        await self.send(context, chat.id, format_sources(ui("sources_header", lang), docs, lang))

    async def urgent(self, update: Update, context: Context) -> None:
        """Ask which situation is happening, with one button each (then send that one script)."""
        chat = update.effective_chat
        if chat is None:
            return
        lang = await self.language(update)
        prompt = format_text(ui("urgent_menu", lang))
        await self.send(context, chat.id, prompt, keyboards.situations(lang))

    async def send_situation(
        self, context: Context, chat_id: int, situation: Situation, lang: str
    ) -> None:
        """The script for one urgent situation; the built-in copy when the index fails."""
        try:
            reply = await self.deadlines.engine(self.engine.situation_reply, situation, lang)
        except EngineUnavailable as err:
            builtin = self.scripts.reply(situation, lang)
            if builtin is None:
                await self.apologise(context, chat_id, lang, err)
                return
            log.warning("urgent steps from the built-in scripts: %s", type(err).__name__)
            reply = builtin
        await self.send_reply(context, chat_id, reply)

    async def forget(self, update: Update, context: Context) -> None:
        """Delete everything stored about this chat, and say so."""
        chat = update.effective_chat
        if chat is None:
            return
        lang = await self.language(update)
        self.memory.forget(chat.id)
        try:
            await self.deadlines.state(self.state.forget, chat.id)
        except StateUnavailable:
            await self.send(context, chat.id, format_text(texts.text("unavailable", lang)))
            return
        await self.send(context, chat.id, format_text(ui("forgotten", lang)))

    async def unknown_command(self, update: Update, context: Context) -> None:
        """Answer a command the bot does not know (or that this person may not use)."""
        if update.effective_chat:
            lang = await self.language(update)
            text = format_text(ui("unknown_command", lang))
            await self.send(context, update.effective_chat.id, text)

    # -- admin -----------------------------------------------------------------------------------

    async def stats(self, update: Update, context: Context) -> None:
        """Admins only: what a maintainer can act on (bot/stats.py), counts only."""
        chat = update.effective_chat
        if chat is None:
            return
        try:
            index = await self.deadlines.engine(maintainer.index_stats, self.engine.settings)
        except (EngineUnavailable, IndexError_) as err:
            log.warning("stats: index unavailable: %s", type(err).__name__)
            index = None
        try:
            counts = await self.deadlines.state(maintainer.Counts.read, self.state)
        except StateUnavailable:
            counts = None
        body = maintainer.render(maintainer.report(index, counts))
        await self.send(context, chat.id, format_text(body))

    async def reload(self, update: Update, context: Context) -> None:
        """Admins only: reopen the index after a re-ingest."""
        chat = update.effective_chat
        if chat is None:
            return
        try:
            changed = await self.deadlines.engine(self.engine.reload)
        except EngineUnavailable as err:
            log.warning("reload: engine unavailable: %s", err)
            await self.send(context, chat.id, format_text(ui("admin_unavailable", "en")))
            return
        key = "admin_reloaded" if changed else "admin_unchanged"
        await self.send(context, chat.id, format_text(ui(key, "en")))

    # -- messages --------------------------------------------------------------------------------

    async def question(self, update: Update, context: Context) -> None:
        """Answer a typed question from the vetted documents, with citations and buttons."""
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None or not (message.text or message.caption):
            return
        # normalised and cut before anything looks at it: hostile text costs what a normal one does
        question = normalise(self.strip_mention(message, context), self.settings.max_work_chars)
        situation = pattern_situation(question)  # urgent first: it never waits for the limit
        allowed = await self.within_limit(update, context, quiet=situation is not None)
        if not allowed and situation is None:
            return
        user = update.effective_user
        app_language = user.language_code if user else None
        choice = await self.chosen_language(chat.id)
        reply_to = message.message_id if chat.type != ChatType.PRIVATE else None
        if not question.strip():
            lang = ui_language(choice, app_language)
            await self.send(context, chat.id, format_text(texts.text("empty", lang)))
            return
        try:
            await context.bot.send_chat_action(chat.id, ChatAction.TYPING)
        except TelegramError as err:
            log.info("typing action failed: %s", type(err).__name__)
        reply: Reply | None = None
        trace: Trace | None = None
        failure: Exception = EngineUnavailable("past the rate limit")
        if allowed:  # past the limit, an urgent message gets the built-in steps (no engine work)
            try:
                trace = await self.deadlines.engine(
                    self.answer, question, chat.id, choice, app_language
                )
                reply = trace.reply
            except Exception as err:  # any engine failure: the steps if urgent, else the apology
                if not isinstance(err, EngineUnavailable):
                    log.error("engine failed: %s", error_summary(err))
                failure = err
        if reply is None and situation is not None:
            lang = await self.urgent_language(question, choice, app_language)
            reply = self.scripts.reply(situation, lang, question)
            if reply is not None and allowed:
                log.warning("urgent steps from the built-in scripts: %s", type(failure).__name__)
        if reply is None:
            await self.apologise(context, chat.id, ui_language(choice, app_language), failure)
            return
        await self.send_reply(context, chat.id, reply, reply_to)
        gap = maintainer.unanswered(trace) if trace is not None else None
        if gap is not None:  # only the count: language and nearest section, never the text
            with contextlib.suppress(StateUnavailable):
                await self.deadlines.state(self.state.add_no_answer, *gap)

    def answer(
        self, question: str, chat_id: int, choice: str | None, app_language: str | None = None
    ) -> Trace:
        """The engine's reply (blocking): the chat's explicit language choice wins; otherwise a
        confident detection; short or ambiguous messages keep the chat's language (its last
        reply's, else the Telegram app's). The chat's last turns make follow-ups work."""
        history = self.memory.history(chat_id)
        prior = history[-1].lang if history else app_language
        trace = self.engine.respond(question, choice, history=history, prior=prior)
        if trace.reply.kind != "smalltalk":  # "thanks" is not what a follow-up refers to
            self.memory.add(chat_id, trace.turn())
        return trace

    async def within_limit(self, update: Update, context: Context, quiet: bool = False) -> bool:
        """Count the message; past the limit, say so once per window (unless ``quiet``) and drop
        the rest. When the state cannot count in time, the message is let through."""
        chat = update.effective_chat
        if chat is None:
            return False
        s = self.settings
        try:
            count = await self.deadlines.state(self.state.hit, chat.id, s.rate_limit_window_s)
        except StateUnavailable:
            return True
        if count <= s.rate_limit_messages:
            return True
        if count == s.rate_limit_messages + 1 and not quiet:
            await self.send(
                context, chat.id, format_text(ui("rate_limited", await self.language(update)))
            )
        return False

    @staticmethod
    def strip_mention(message: Message, context: Context) -> str:
        """The message text (or a photo's or file's caption) without the bot's @name."""
        text = message.text or message.caption or ""
        username = context.bot.username
        if username:
            text = text.replace(f"@{username}", " ")
        return text.strip()

    async def not_text(self, update: Update, context: Context) -> None:
        """A photo or file with a caption: answer the caption. A voice or video note: the hotline
        and "please type". Anything else: ask kindly for a typed question."""
        message, chat = update.effective_message, update.effective_chat
        if chat is None:
            return
        if message is not None and message.caption and not SPOKEN.check_update(update):
            await self.question(update, context)
            return
        if not await self.within_limit(update, context):
            return
        lang = await self.language(update)
        if SPOKEN.check_update(update):
            key = "media_voice"
        elif message is not None and (message.photo or message.document):
            key = "media_no_caption"
        else:
            key = "type_question"
        await self.send(context, chat.id, format_text(ui(key, lang)))

    # -- buttons ---------------------------------------------------------------------------------

    async def button(self, update: Update, context: Context) -> None:
        """Handle a tap on any inline button; unknown or tampered data gets a gentle notice."""
        query = update.callback_query
        chat = update.effective_chat
        if query is None:
            return
        if chat is None or not self.taps.allow(chat.id):
            # a tap on an inline message (no chat to answer in), or past the tap limit: stop the
            # client's spinner and do nothing else
            await query.answer()
            return
        data = query.data.encode("utf-8", "replace").decode() if query.data else None
        action = keyboards.parse(data)  # forged data with lone surrogates cannot be encoded
        if action is None:
            await query.answer(ui("stale_button", await self.language(update)))
            return
        lang = action.lang
        try:
            await self.act(update, context, action, chat.id)
        except EngineUnavailable as err:
            await query.answer()
            await self.apologise(context, chat.id, lang, err)

    async def act(
        self, update: Update, context: Context, action: keyboards.Action, chat_id: int
    ) -> None:
        """Carry out a parsed button press."""
        query = update.callback_query
        assert query is not None
        lang = action.lang
        if action.name in ("lang", "welcome"):
            await self.set_language(chat_id, lang)
            await query.answer()
            if action.name == "lang":
                await query.edit_message_text(esc(ui("language_chosen", lang)))
            else:
                await query.edit_message_text(
                    format_text(ui("welcome", lang))[0], reply_markup=keyboards.welcome(lang)
                )
        elif action.name == "topics" and action.section:  # another page of the topics
            docs = await self.catalog(lang)
            await query.answer()
            page = action.section - 1
            await query.edit_message_reply_markup(keyboards.topics(docs, lang, page))
        elif action.name == "topics":
            await query.answer()
            await self.send_topics(context, chat_id, lang)
        elif action.name == "emergency":
            await query.answer()
            prompt = format_text(ui("urgent_menu", lang))
            await self.send(context, chat_id, prompt, keyboards.situations(lang))
        elif action.name == "situation":
            await query.answer()
            await self.send_situation(context, chat_id, action.kind, lang)  # type: ignore[arg-type]
        elif action.name == "back":
            docs = await self.catalog(lang)
            await query.answer()
            await query.edit_message_text(
                esc(ui("topics_header", lang)), reply_markup=keyboards.topics(docs, lang)
            )
        elif action.name == "doc":
            doc = next((d for d in await self.catalog(lang) if d.id == action.doc), None)
            if doc is None:
                await query.answer(ui("stale_button", lang))
                return
            await query.answer()
            await query.edit_message_text(
                self.sections_message(doc, lang), reply_markup=keyboards.sections(doc, lang)
            )
        elif action.name == "section":
            try:
                reply = await self.deadlines.engine(
                    self.engine.section_reply, action.doc, action.section, lang
                )
            except KeyError:
                await query.answer(ui("stale_button", lang))
                return
            await query.answer()
            await self.send_reply(context, chat_id, reply)
        elif action.name in ("feedback", "vote"):
            section = action.section_key
            if not await self.count_feedback(action.doc, action.kind, lang, chat_id, section):
                await query.answer(ui("stale_button", lang))
                return
            thanks = "feedback_thanks" if action.kind == "helpful" else "feedback_sorry"
            await query.answer(ui(thanks, lang))
            why = action.kind == "not_helpful" and bool(section)  # then ask why
            await query.edit_message_reply_markup(
                keyboards.feedback(action.doc, lang, asked=not why, section=section, reasons=why)
            )
        elif action.name == "reason":
            if not await self.count_reason(action, chat_id):
                await query.answer(ui("stale_button", lang))
                return
            await query.answer(ui("feedback_thanks", lang))
            await query.edit_message_reply_markup(keyboards.feedback(action.doc, lang, asked=True))
        elif action.name == "person":
            await self.count_feedback(action.doc, "person", lang, chat_id)
            await query.answer()
            await self.send(context, chat_id, format_text(ui("talk_to_person", lang)))

    async def count_feedback(
        self, doc_id: str, kind: str, lang: str, chat_id: int, section: str = ""
    ) -> bool:
        """Store one anonymous count if the document (and the section a vote names) exists
        (button data can be tampered with), at most once per chat and document for a vote and
        once for "talk to a person" (the pairs are remembered in memory only, for a day)."""
        if section:
            try:
                if not await self.deadlines.engine(self.has_section, section):
                    return False
            except EngineUnavailable:
                return True  # the tap was genuine as far as we can tell; only the count is lost
        elif doc_id:
            try:
                known = {d.id for d in await self.catalog(lang)}
            except EngineUnavailable:
                return True  # the tap was genuine as far as we can tell; only the count is lost
            if doc_id not in known:
                return False
        group = "person" if kind == "person" else "vote"
        if not self.feedback_given.first(chat_id, doc_id, group):
            return True
        with contextlib.suppress(StateUnavailable):  # only the count is lost
            await self.deadlines.state(self.state.add_feedback, doc_id, kind, None, section or None)
        return True

    async def count_reason(self, action: keyboards.Action, chat_id: int) -> bool:
        """Store why a section was not helpful if it exists, once per chat and section (in
        memory, for a day, like the votes)."""
        section = action.section_key
        try:
            if not await self.deadlines.engine(self.has_section, section):
                return False
        except EngineUnavailable:
            return True
        if self.feedback_given.first(chat_id, section, "reason"):
            with contextlib.suppress(StateUnavailable):
                await self.deadlines.state(self.state.add_reason, section, action.kind)
        return True

    def has_section(self, key: str) -> bool:
        """Whether the index holds the section ``lang/doc-id#n`` (blocking)."""
        lang, _, rest = key.partition("/")
        doc_id, _, index = rest.partition("#")
        return self.engine.corpus().section(lang, doc_id, int(index)) is not None

    # -- errors ----------------------------------------------------------------------------------

    async def on_error(self, update: object, context: Context) -> None:
        """Log the error first (never the update's content), then apologise if a chat is known."""
        err = context.error
        update_id = update.update_id if isinstance(update, Update) else None
        if isinstance(err, TelegramError):
            log.warning("Telegram error on update %s: %s", update_id, str(err)[:200])
            return
        if err is not None:
            log.error("error on update %s: %s", update_id, error_summary(err))
        if _delivered.get():
            return  # the resident already has a reply; an apology now would contradict it
        if isinstance(update, Update) and update.effective_chat:
            try:
                lang = await self.language(update)
                await self.send(
                    context, update.effective_chat.id, format_text(texts.text("unavailable", lang))
                )
            except TelegramError as send_err:
                log.warning("could not send the apology: %s", type(send_err).__name__)
