"""The answer engine: a resident's question in, a cited reply out. No Telegram here.

Order of decisions: clean the input, pick the language, decline harmful or out-of-scope asks,
send the urgent script for a situation happening now, otherwise retrieve (dense + BM25) and quote
the best vetted section(s), or say plainly that there is no vetted answer.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from bot import area, compose, personal, smalltalk, texts
from bot.batching import BatchingEmbeddings
from bot.corpus import Corpus, DocumentInfo, SectionInfo, SectionRecord
from bot.generation import LiveCorpus
from bot.guard import HARM_MARGIN, HARM_PROBABILITY, should_decline, threatened
from bot.language import LanguageDetector_
from bot.llm import LLMWriter
from bot.relevance import Policy, load_policies
from bot.reply import Kind, Reply
from bot.retrieval import Candidate, Mode, search
from bot.settings import BotSettings
from bot.urgency import SCRIPT_INDEX, Situation, UrgencyClassifier
from ingest.embedder import E5_MODEL_NAME, EmbeddingModelError, create_embeddings
from ingest.store import IndexError_

log = logging.getLogger(__name__)

__all__ = ["DocumentInfo", "Engine", "EngineUnavailable", "SectionInfo", "Trace", "Turn"]

URGENT_DOC = "urgent"
#: Asked about a place outside Illinois with no answer that holds there: what this service covers
#: and where people in other states find legal help (sections of this document, in order).
OUTSIDE_DOC = "outside-illinois"
OUTSIDE_SECTIONS = (0, 3)
#: A policy for a model nobody has fitted one for: it answers on strong question matches only.
#: Replace it with `python -m bot eval --fit` (it logs a warning when used).
FALLBACK_POLICY = Policy(
    model="unfitted",
    coef=[12.0, 4.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    intercept=-16.0,
    threshold=0.5,
    urgent_threshold=0.03,
    note="hand-set fallback; fit one on dev",
)
#: A second section is quoted only when it answers the same question: its question match is this
#: close to the best one's, and the relevance model accepts it too.
SECOND_SECTION_MARGIN = 0.01
#: Words that mark a message as leaning on the previous turn ("and if...", "what about...").
_FOLLOW_UP = re.compile(
    r"^\s*(?:and|also|but|what about|how about|and if|what if they|ok|okay|so|then|y|e|pero|"
    r"tambien|y si|y que|que tal|entonces|ok y|y en|y con|y para|and in|and at|and for|what abt)\b",
    re.IGNORECASE,
)
#: A message this short (in words) without a question of its own is read with the previous turn.
FOLLOW_UP_WORDS = 5
#: How much of a follow-up's own vector is added to the vector of it joined with its topic: as
#: much as the joined text (set by reasoning, not fitted; 0.6 and 1.2 score the same on dev).
FRAGMENT_WEIGHT = 1.0
#: Openers of a question that stands on its own ("what is...", "¿qué es...", "can I...").
_STANDALONE = re.compile(
    r"^\W*(?:what|who|how|where|when|why|which|can|could|do|does|is|are|should|will|"
    r"que|qué|quien|quién|como|cómo|donde|dónde|cuando|cuándo|cual|cuál|puedo|puede|pueden|"
    r"tengo|debo|es|son)\b",
    re.IGNORECASE,
)
#: Words pointing back at the previous turn ("is that legal?", "where do I report him?",
#: "¿es legal eso?"): a short question with one of them is not a question of its own.
_POINTS_BACK = re.compile(
    r"\b(?:that|this|it|him|her|them|they|there|those|these|eso|esto|ese|esa|esos|esas|ahi|ahí|"
    r"alli|allí|lo|los|le|les)\b",
    re.IGNORECASE,
)
_TAGS = re.compile(r"<[^>]{0,200}>")
_MARKUP = re.compile(r"[*_`#>|~\[\]{}]+")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Turn:
    """One earlier turn of a conversation: the question and the section keys it was answered with.

    Nothing else is kept (no names, no chat id); memory of turns belongs to the caller.
    """

    question: str
    sections: tuple[str, ...] = ()
    lang: str = ""
    #: the question this turn was read as part of: its own, or for a follow-up read with the
    #: turn before, that turn's topic (so "and at school?" after "what about at work?" after
    #: "can ICE come into my house?" still reads as a question about ICE)
    topic: str = ""


class EngineUnavailable(Exception):
    """The index cannot be used right now (missing, Chroma down, corrupt, wrong model)."""


@dataclass
class Trace:
    """A reply and how it was reached (for evaluation and ``--explain``; never logged with text)."""

    reply: Reply
    candidates: list[Candidate] = field(default_factory=list)
    route: str = ""
    explain: dict[str, Any] = field(default_factory=dict)
    topic: str = ""  # see Turn.topic; empty: the question itself

    def turn(self) -> Turn:
        """What a conversation remembers of this turn."""
        reply = self.reply
        return Turn(reply.question, self.sections, reply.language, self.topic or reply.question)

    @property
    def sections(self) -> tuple[str, ...]:
        """Keys of the sections the reply quotes (what a conversation remembers of this turn)."""
        return tuple(
            f"{c.lang}/{c.doc_id}#{c.section_index}" if c.lang else f"{c.doc_id}#{c.section_index}"
            for c in self.reply.citations
        )


def clean_question(raw: str, limit: int) -> str:
    """Strip control characters, markup and extra space; cut to ``limit`` characters."""
    text = raw[: limit * 4]
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )
    text = _TAGS.sub(" ", text)
    text = _MARKUP.sub(" ", text)
    return _SPACE.sub(" ", text).strip()[:limit]


def _holds_elsewhere(section: SectionRecord) -> bool:
    """Whether a section's rules hold outside Illinois (federal or general, naming no place here)."""
    if section.doc_id == OUTSIDE_DOC:
        return True
    if section.jurisdiction == "United States":  # federal rights; some name Illinois sources
        return not area.mentions_here(section.heading)
    return section.jurisdiction == "General" and not area.mentions_here(
        f"{section.heading} {section.text}"
    )


class Engine:
    """Answers questions from the active index. Thread-safe; CPU-bound calls block."""

    def __init__(
        self,
        settings: BotSettings,
        embedder: Embeddings | None = None,
        detector: LanguageDetector_ | None = None,
    ) -> None:
        self.settings = settings
        self._embedder = embedder
        self.detector = detector or LanguageDetector_()
        self._live = LiveCorpus(settings, lambda: self.model_name)
        self.llm_writer: LLMWriter | None = None
        self._urgency: UrgencyClassifier | None = None
        self.policy = self._policy()
        # The per-question matrix products are tiny. OpenBLAS's worker threads keep spinning after
        # them and slow the embedding model's own threads on a small machine (measured on 2 cores:
        # warm p50 52 ms -> 24 ms, p95 143 ms -> 36 ms), so BLAS runs on one thread.
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def embedder(self) -> Embeddings:
        """The embedding model (created on first use)."""
        if self._embedder is None:
            s = self.settings
            model = create_embeddings(s.embedding_model, s.embedding_backend, s.model_cache_dir)
            self._embedder = (
                BatchingEmbeddings(
                    model, s.embed_batch_window_ms / 1000, s.embed_batch_max, s.embed_queue_max
                )
                if s.embed_batch
                else model
            )
        return self._embedder

    @property
    def model_name(self) -> str:
        """Name of the embedding model, as recorded in the index."""
        return str(getattr(self.embedder, "model_name", type(self.embedder).__name__))

    def _policy(self) -> Policy:
        try:
            name = self.model_name
        except EmbeddingModelError:
            name = E5_MODEL_NAME  # reported as unavailable on first use
        policy = load_policies().get(name)
        if policy is None:
            log.warning(
                "no fitted policy for this embedding model; using a cautious fallback "
                "(run `python -m bot eval --fit`)"
            )
            policy = FALLBACK_POLICY
        if self.settings.min_score:
            policy = replace(policy, threshold=self.settings.min_score)
        return policy

    @property
    def urgency(self) -> UrgencyClassifier:
        """The nearest-exemplar urgency classifier (exemplar vectors cached under the data dir)."""
        if self._urgency is None:
            self._urgency = UrgencyClassifier(self.embedder, self.settings.data_dir / "cache")
        return self._urgency

    def warm_up(self) -> None:
        """Load the index, the model and the language detector now."""
        self.corpus()
        self.detector.warm_up()
        try:
            self.embedder.embed_query("warm up")
            self.urgency.warm_up()
        except EmbeddingModelError as err:
            raise EngineUnavailable(str(err)) from err

    def corpus(self, force: bool = False) -> Corpus:
        """The loaded index generation (a newer one is loaded and swapped in the background)."""
        try:
            return self._live.get(force)
        except IndexError_ as err:
            raise EngineUnavailable(str(err)) from err

    def reload(self) -> bool:
        """Re-open the index now; True when a different index generation was loaded."""
        current = self._live.current
        before = current.info.collection if current else None
        after = self.corpus(force=True).info.collection
        return before != after

    def stats(self) -> dict[str, Any]:
        """Counts of the loaded index (no resident data)."""
        corpus = self.corpus()
        return {
            "model": corpus.info.model,
            "built_at": corpus.info.built_at,
            "documents": corpus.info.documents,
            "chunks": corpus.info.chunks,
            "languages": corpus.languages,
        }

    # -- questions -------------------------------------------------------------------------------

    def detect_language(self, text: str) -> str:
        """ISO 639-1 code of ``text`` (may be outside the supported languages)."""
        return self.detector.detect(text)

    def answer(
        self,
        question: str,
        lang: str | None = None,
        history: Sequence[Turn] = (),
        prior: str | None = None,
    ) -> Reply:
        """The reply a resident reads."""
        return self.respond(question, lang, history=history, prior=prior).reply

    def respond(
        self,
        question: str,
        lang: str | None = None,
        mode: Mode = "fused",
        history: Sequence[Turn] = (),
        prior: str | None = None,
    ) -> Trace:
        """Answer and keep the trace.

        ``lang`` is the chat's explicit language choice (it wins); ``prior`` is the chat's current
        language (its last reply language, or Telegram's ``language_code``), kept for short or
        ambiguous messages; ``history`` holds the conversation's earlier turns, oldest first.
        """
        started = time.perf_counter()
        trace = self._respond(question, lang, mode, list(history), prior)
        trace.reply = replace(trace.reply, latency_ms=(time.perf_counter() - started) * 1000)
        return trace

    def _embed(self, text: str) -> list[float]:
        try:
            return self.embedder.embed_query(text)
        except EmbeddingModelError as err:
            raise EngineUnavailable(str(err)) from err

    def _respond(
        self, raw: str, choice: str | None, mode: Mode, history: list[Turn], prior: str | None
    ) -> Trace:
        # personal details are cut out before anything reads the message, and never echoed
        redaction = personal.redact(raw or "")
        raw = redaction.text
        question = clean_question(raw, self.settings.max_question_chars)
        if prior is None and history:
            prior = history[-1].lang or None
        decision = self.detector.decide(question, choice, prior)
        language = decision.lang
        reply_lang = texts.reply_language(language)
        notes = [] if language in texts.SUPPORTED else [texts.text("language_notice", language)]
        if redaction.found:
            notes.append(texts.text("personal_data", language))
        notice = "\n".join(notes)
        explain: dict[str, Any] = {
            "language": {
                "lang": language,
                "reason": decision.reason,
                "confidence": round(decision.confidence, 3),
                "reply": reply_lang,
            },
            "personal_data": list(redaction.kinds),
        }
        if not any(ch.isalnum() for ch in question):
            reply = Reply(
                raw, reply_lang, "no_answer", texts.text("empty", reply_lang), notice=notice
            )
            return Trace(reply, route="personal data" if notes else "empty", explain=explain)
        talk = smalltalk.classify(question)
        if talk is not None:
            explain["smalltalk"] = talk
            if decision.reason == "default" and smalltalk.spanish(question):
                language = reply_lang = "es"  # "hola" alone: lingua cannot tell, the word can
            said = texts.text(f"talk_{talk}", language)
            said_lang = language if texts.has_text(f"talk_{talk}", language) else reply_lang
            notice = "\n".join(n for n in notes if n != texts.text("language_notice", language))
            reply = Reply(raw, said_lang, "smalltalk", said, notice=notice)
            return Trace(reply, route="smalltalk", explain=explain)
        elsewhere = area.outside(question)
        explain["outside_area"] = elsewhere
        if elsewhere:
            notice = "\n".join([*notes, texts.text("outside_area", language)])
        corpus = self.corpus()
        if should_decline(question):
            reply = compose.no_answer_reply(raw, reply_lang, True, notice)
            return Trace(reply, route="declined", explain=explain)

        vector = self._embed(question) if mode != "bm25" else None
        policy = self.policy
        weights = (policy.urgent_coef, policy.urgent_intercept) if policy.urgent_coef else None
        urgency = self.urgency.assess(question, vector, policy.urgent_threshold, corpus, weights)
        explain["urgency"] = {**urgency.explain(), "threshold": self.policy.urgent_threshold}
        # "y en el hospital?" after a question is a follow-up about a topic, not an emergency:
        # there only the readable patterns (agents here, someone taken now) send a script
        follow_up = bool(history) and bool(_FOLLOW_UP.search(question))
        if urgency.situation is not None and not (follow_up and urgency.pattern is None):
            script = self._urgent(corpus, language, urgency.situation, raw)
            if script is not None:
                # the script says itself which language it is in; privacy and place notes stay
                lang_note = texts.text("language_notice", language)
                own = [n for n in notice.split("\n") if n and n != lang_note]
                joined = "\n".join([*own, script.notice] if script.notice else own)
                return Trace(replace(script, notice=joined), route="urgent", explain=explain)
        # the patterns above read English and Spanish; the "harm" exemplars read any language
        harm = self.urgency.harm(vector, corpus) if vector is not None else -1.0
        harm_p = policy.harm(vector)
        explain["harm"] = {
            "margin": round(harm, 4),
            "probability": round(harm_p, 4),
            "thresholds": [HARM_MARGIN, HARM_PROBABILITY],
        }
        if harm >= HARM_MARGIN and harm_p >= HARM_PROBABILITY and not threatened(question):
            reply = compose.no_answer_reply(raw, reply_lang, True, notice)
            return Trace(reply, route="declined", explain=explain)

        langs = [reply_lang] if language in texts.SUPPORTED else [language, texts.DEFAULT]
        if decision.reason == "choice":
            # the chat chose the reply language; search in the language the message is written
            # in (the answer is that section's twin: en and es documents pair section by section)
            message_lang = self.detector.decide(question, None, reply_lang).lang
            if message_lang in texts.SUPPORTED and message_lang != reply_lang:
                langs = [message_lang]
                explain["language"]["searched"] = message_lang
        previous = (
            {key.split("#")[0].split("/")[-1] for key in history[-1].sections} if history else set()
        )
        candidates = self._rank(corpus, vector, question, langs, mode, previous)
        used, follows = "alone", ""
        if history:
            # a follow-up is read together with the previous question ("and if they show a paper?")
            topic = history[-1].topic or history[-1].question
            joined = f"{topic} {question}"
            with_context = self._rank(
                corpus,
                self._context_vector(joined, vector) if mode != "bm25" else None,
                joined,
                langs,
                mode,
                previous,
            )
            alone_p = candidates[0].score if candidates else 0.0
            context_p = with_context[0].score if with_context else 0.0
            # a cue ("and if...", "what about...") leans on the last turn, and so does a short
            # fragment ("hospitals?") when the last turn makes it a surer match; a short question
            # of its own ("what is a detainer?") stands alone
            short = (
                len(question.split()) <= FOLLOW_UP_WORDS
                and context_p > alone_p
                and (not _STANDALONE.match(question) or bool(_POINTS_BACK.search(question)))
            )
            leans = bool(_FOLLOW_UP.search(question)) or short
            if with_context and (
                (leans and context_p >= max(self.policy.threshold, alone_p))
                or (alone_p < self.policy.threshold <= context_p)
            ):
                candidates, used = with_context, "with previous turn"
                follows = topic
        if elsewhere:
            candidates = [c for c in candidates if _holds_elsewhere(c.section)]
        limits = area.local_limits(question)
        if limits[0]:
            # a suburb or another Illinois county: Chicago's (and Cook County's) own rules do not
            # reach it, whatever the previous turn was about
            candidates = [
                c
                for c in candidates
                if area.reaches(
                    c.section.jurisdiction, f"{c.section.heading} {c.section.text}", limits
                )
            ]
            explain["local_limits"] = {"skipped": sorted(limits[0]), "places": list(limits[1])}
        best = candidates[0] if candidates else None
        explain["decision"] = {
            "query": used,
            "probability": round(best.score, 4) if best else 0.0,
            "threshold": self.policy.threshold,
            "scope_floor": self.policy.scope_floor,
            "candidates": [
                {
                    "section": c.section.key,
                    "probability": round(c.score, 4),
                    **{k: round(v, 4) for k, v in c.features.items()},
                }
                for c in candidates[:5]
            ],
        }
        if elsewhere and (best is None or best.score < self.policy.threshold):
            sections = [corpus.section(reply_lang, OUTSIDE_DOC, i) for i in OUTSIDE_SECTIONS]
            found = [s for s in sections if s is not None]
            if found:
                notice = "\n".join(notes)  # the first section says what this service covers
                reply = compose.answer_reply(raw, reply_lang, found, notice)
                return Trace(
                    reply, candidates, route="outside the area", explain=explain, topic=follows
                )
        if best is None or best.score < self.policy.threshold:
            reply = compose.no_answer_reply(raw, reply_lang, False, notice)
            return Trace(reply, candidates, route="weak", explain=explain, topic=follows)
        chosen = [best.section]
        for other in candidates[1:3]:
            if (
                other.section.doc_id != best.section.doc_id
                and other.score >= self.policy.threshold
                and other.question >= best.question - SECOND_SECTION_MARGIN
            ):
                chosen.append(other.section)
                break
        if language in texts.SUPPORTED:
            chosen = [corpus.section(reply_lang, c.doc_id, c.index) or c for c in chosen]
        answer_lang = chosen[0].lang
        if answer_lang not in texts.SUPPORTED:
            notice = texts.text("translation_unreviewed", answer_lang)
        reply = compose.answer_reply(raw, texts.reply_language(answer_lang), chosen, notice)
        writer = self._llm_writer()
        if writer is not None:
            passages = [c.section for c in candidates[:3]]
            written = writer.write(question, reply_lang, passages)
            if written is not None:
                reply = compose.llm_reply(raw, reply_lang, written, passages, notice)
                return Trace(reply, candidates, route="llm", explain=explain, topic=follows)
        return Trace(reply, candidates, route="answer", explain=explain, topic=follows)

    def _context_vector(self, joined: str, alone: list[float] | None) -> list[float]:
        """The follow-up read with its topic: the joined text's vector, tilted towards the new
        words by ``FRAGMENT_WEIGHT`` of the follow-up's own vector (a long first question would
        otherwise drown "what about at work?")."""
        joined_vector = np.asarray(self._embed(joined), dtype=np.float32)
        if alone is None or FRAGMENT_WEIGHT <= 0:
            return joined_vector.tolist()
        mixed = joined_vector + FRAGMENT_WEIGHT * np.asarray(alone, dtype=np.float32)
        return (mixed / (np.linalg.norm(mixed) or 1.0)).tolist()

    def _rank(
        self,
        corpus: Corpus,
        vector: list[float] | None,
        question: str,
        langs: list[str],
        mode: Mode,
        previous: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> list[Candidate]:
        """Candidates ordered by the relevance model's probability (``previous``: the documents
        the conversation's last turn was answered from)."""
        found = search(corpus, vector, question, langs, mode)
        off_topic = self.urgency.off_topic(vector) if vector is not None else -1.0
        scope = self.policy.scope(vector)
        for c in found:
            c.features["previous_doc"] = float(c.section.doc_id in previous)
            c.features["off_topic"] = off_topic - c.features["question"]
            c.features["scope"] = scope
        scored = [replace(c, score=self.policy.score(c.features)) for c in found]
        return sorted(scored, key=lambda c: -c.score)

    def _urgent(
        self, corpus: Corpus, language: str, situation: Situation, raw: str
    ) -> Reply | None:
        """The script for ``situation`` in the person's language when vetted, else in English
        with one line in their language saying so."""
        index = SCRIPT_INDEX[situation]
        for lang in dict.fromkeys([language, texts.reply_language(language), texts.DEFAULT]):
            section = corpus.section(lang, URGENT_DOC, index)
            if section is None:
                continue
            notice = ""
            if section.awaiting_native_review:
                notice = texts.text("translation_unreviewed", lang)
            elif lang != language:
                notice = texts.text("urgent_english_only", language)
            return compose.urgent_reply(raw, texts.reply_language(lang), [section], notice)
        return None

    def _llm_writer(self) -> LLMWriter | None:
        if self.llm_writer is None and self.settings.llm:
            self.llm_writer = LLMWriter.from_spec(self.settings.llm, self.settings.llm_timeout_s)
        return self.llm_writer

    # -- browsing --------------------------------------------------------------------------------

    def catalog(self, lang: str) -> list[DocumentInfo]:
        """Documents (topics) in ``lang``, or in English when that language has none."""
        corpus = self.corpus()
        docs = corpus.documents(texts.reply_language(lang))
        return docs or corpus.documents(texts.DEFAULT)

    def section_reply(self, doc_id: str, section_index: int, lang: str) -> Reply:
        """One whole section as a cited reply (for topic browsing); KeyError if unknown."""
        lang = texts.reply_language(lang)
        corpus = self.corpus()
        section = corpus.section(lang, doc_id, section_index) or corpus.section(
            texts.DEFAULT, doc_id, section_index
        )
        if section is None:
            raise KeyError(f"{doc_id}#{section_index}")
        reply = compose.answer_reply(section.heading, lang, [section])
        kind: Kind = "urgent" if section.urgent else "answer"
        return replace(reply, body=f"{section.text} [1]", kind=kind)

    def situation_reply(self, situation: Situation, lang: str) -> Reply:
        """The one script for ``situation`` (the emergency menu), in ``lang`` when vetted."""
        reply = self._urgent(self.corpus(), lang, situation, "")
        if reply is None:
            raise EngineUnavailable("the index has no urgent scripts")
        return reply

    def urgent_reply(self, lang: str) -> Reply:
        """Every urgent script, in order, with the hotline (for /urgent)."""
        lang = texts.reply_language(lang)
        corpus = self.corpus()
        scripts = [s for s in corpus.by_lang.get(lang, []) if s.doc_id == URGENT_DOC] or [
            s for s in corpus.by_lang.get(texts.DEFAULT, []) if s.doc_id == URGENT_DOC
        ]
        return compose.urgent_reply("", lang, scripts)
