"""Extractive replies: vetted text quoted word for word, trimmed to what answers the question."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from bot import texts
from bot.corpus import SectionRecord, tokenize
from bot.reply import Citation, Kind, Reply

#: The quoted body of an answer stays within this many characters (one phone screen with sources).
MAX_BODY_CHARS = 600
#: A section up to this length is quoted whole; a longer one is trimmed to its lead and the points
#: closest to the question.
WHOLE_SECTION_CHARS = 600
LEAD_SENTENCES = 2
MAX_POINTS = 3
#: Room kept for the lead of a second section that answers the same question.
SECOND_LEAD_CHARS = 220

_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_SEGMENTERS: dict[str, Any] = {}


def _segmenter(lang: str) -> Any:
    """pysbd's rule-based splitter, which knows "EE. UU.", "Jan." and quotation marks."""
    import pysbd

    code = lang if lang in pysbd.languages.LANGUAGE_CODES else "en"
    if code not in _SEGMENTERS:
        _SEGMENTERS[code] = pysbd.Segmenter(language=code, clean=False)
    return _SEGMENTERS[code]


def units(text: str, lang: str = "en") -> list[str]:
    """Sentences and list items of a section, in order, each kept exactly as written."""
    return list(_units(text, lang))


@functools.lru_cache(maxsize=4096)
def _units(text: str, lang: str) -> tuple[str, ...]:
    # pysbd compiles more patterns than re's cache holds, so splitting a section costs about
    # 10 ms every time; sections repeat (the same few answer most questions), their split does not
    # change, and 4,096 of them are a few MB
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if _LIST_ITEM.match(line):
            out.append(line)
            continue
        out += [s.strip() for s in _segmenter(lang).segment(line) if s.strip()]
    return tuple(out)


def quote_section(
    section: SectionRecord, question: str, n: int, budget: int, lead_only: bool = False
) -> str:
    """The section, or its lead plus the sentences closest to the question, marked ``[n]``."""
    if len(section.text) <= min(WHOLE_SECTION_CHARS, budget) and not lead_only:
        return f"{section.text} [{n}]"
    parts = units(section.text, section.lang)
    lead, rest = parts[:LEAD_SENTENCES], parts[LEAD_SENTENCES:]
    if lead_only:
        rest = []
    wanted = set(tokenize(question))
    scored = sorted(range(len(rest)), key=lambda i: (-len(wanted & set(tokenize(rest[i]))), i))[
        :MAX_POINTS
    ]
    lead_text = " ".join(lead)
    used = len(lead_text)
    points = []
    for i in sorted(scored):
        if used + len(rest[i]) + 4 > budget:
            continue
        points.append(rest[i])
        used += len(rest[i]) + 4
    lines = [f"{lead_text} [{n}]"]
    lines += [p if _LIST_ITEM.match(p) else f"- {p}" for p in points]
    return "\n".join(lines)


def citation(section: SectionRecord, n: int) -> Citation:
    """A citation of a retrieved section."""
    return Citation(
        n=n,
        title=section.title,
        section=section.heading,
        url=section.url,
        source=section.source,
        checked_on=section.checked_on,
        doc_id=section.doc_id,
        section_index=section.index,
        lang=section.lang,
    )


def answer_reply(
    question: str, lang: str, sections: Sequence[SectionRecord], notice: str = ""
) -> Reply:
    """An answer quoting the given retrieved sections (best first), each cited once."""
    blocks: list[str] = []
    cites: list[Citation] = []
    # room kept for a related section: its heading (its lead often answers it: "Yes. ...") and lead
    reserve = SECOND_LEAD_CHARS + len(sections[1].heading) + 1 if len(sections) > 1 else 0
    budget = MAX_BODY_CHARS - reserve
    for n, section in enumerate(sections[:2], 1):
        if n == 1:
            block = quote_section(section, question, n, budget)
        else:
            budget += reserve
            block = f"{section.heading}\n{quote_section(section, question, n, budget, True)}"
            if len(block) > budget:
                break
        blocks.append(block)
        cites.append(citation(section, n))
        budget -= len(block)
    return _reply(question, lang, "answer", "\n\n".join(blocks), cites, notice)


def llm_reply(
    question: str, lang: str, body: str, passages: Sequence[SectionRecord], notice: str = ""
) -> Reply:
    """A checked LLM answer; only the passages it cites become citations (renumbered in order)."""
    used = sorted({int(n) for n in re.findall(r"\[(\d+)\]", body)})
    mapping = {old: new for new, old in enumerate(used, 1)}
    body = re.sub(r"\[(\d+)\]", lambda m: f"[{mapping[int(m.group(1))]}]", body)
    cites = [citation(passages[old - 1], new) for old, new in mapping.items()]
    return _reply(question, lang, "answer", body, cites, notice)


def urgent_reply(
    question: str, lang: str, scripts: Sequence[SectionRecord], notice: str = ""
) -> Reply:
    """Urgent scripts word for word (they end with the hotline), then their citations."""
    body = "\n\n".join(f"{s.text} [{n}]" for n, s in enumerate(scripts, 1))
    cites = [citation(s, n) for n, s in enumerate(scripts, 1)]
    return _reply(question, lang, "urgent", body, cites, notice, footer="footer_urgent")


def no_answer_reply(question: str, lang: str, declined: bool = False, notice: str = "") -> Reply:
    """Plainly no vetted information, where to look instead, and the help-line (short: the
    topics are offered as buttons by the chat front ends, not as a list)."""
    lines = [
        texts.text("declined" if declined else "no_answer", lang),
        texts.text("help_line", lang),
    ]
    return Reply(
        question=question,
        language=lang,
        kind="declined" if declined else "no_answer",
        body="\n\n".join(lines),
        notice=notice,
        sources_label=texts.text("sources", lang),
        checked_label=texts.text("checked_on", lang),
    )


def _reply(
    question: str,
    lang: str,
    kind: Kind,
    body: str,
    cites: list[Citation],
    notice: str,
    footer: str = "footer",
) -> Reply:
    return Reply(
        question=question,
        language=lang,
        kind=kind,
        body=body,
        citations=tuple(cites),
        notice=notice,
        footer=texts.text(footer, lang),
        sources_label=texts.text("sources", lang),
        checked_label=texts.text("checked_on", lang),
    )
