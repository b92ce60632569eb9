"""Telegram HTML for engine replies and fixed texts, split into messages Telegram accepts.

Every string that comes from a document or a person is passed through ``html.escape``; the only
tags are the ones written here. Text is cut into self-contained blocks (each opens and closes its
own tags) and blocks are packed into messages, so a split never falls inside a tag or a link.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from telegram.constants import MessageLimit

from bot.engine import DocumentInfo
from bot.reply import Citation, Reply
from bot.texts import text

LIMIT = MessageLimit.MAX_TEXT_LENGTH
_MARKER = re.compile(r"\[(\d{1,3})\]")
_SAFE_URL = re.compile(r"^https?://[^\s<>\"']+$")


def esc(text: str) -> str:
    """``text`` made safe for Telegram HTML (quotes need no escaping outside attributes)."""
    return html.escape(text, quote=False)


def size(message: str) -> int:
    """Length as Telegram counts it (UTF-16 code units), measured on the HTML, which is longer."""
    return len(message.encode("utf-16-le")) // 2


def link(label_html: str, url: str) -> str:
    """``label_html`` as a link to ``url`` when it is a plain http(s) URL, else unchanged."""
    if not _SAFE_URL.match(url):
        return label_html
    return f'<a href="{html.escape(url, quote=True)}">{label_html}</a>'


def _render_body(plain: str, citations: dict[int, Citation]) -> str:
    """Escape ``plain`` and turn ``[n]`` markers into links to their citation."""
    out: list[str] = []
    pos = 0
    for m in _MARKER.finditer(plain):
        out.append(esc(plain[pos : m.start()]))
        cited = citations.get(int(m.group(1)))
        marker = esc(m.group(0))
        out.append(link(marker, cited.url) if cited else marker)
        pos = m.end()
    out.append(esc(plain[pos:]))
    return "".join(out)


def _cut(plain: str, limit: int) -> tuple[str, str]:
    """Split ``plain`` before ``limit`` at the last line break, sentence end or space."""
    head = plain[:limit]
    for sep in ("\n", ". ", " "):
        at = head.rfind(sep)
        if at > limit // 4:
            return plain[: at + len(sep)], plain[at + len(sep) :]
    return head, plain[limit:]


def body_blocks(plain: str, citations: dict[int, Citation], *, limit: int = LIMIT) -> list[str]:
    """The body as HTML blocks (one per paragraph, long paragraphs cut) of at most ``limit``."""
    out: list[str] = []
    for para in plain.split("\n\n"):
        rest = para.strip("\n")
        while rest:
            rendered = _render_body(rest, citations)
            if size(rendered) <= limit:
                out.append(rendered)
                break
            # Escaping and links make the HTML longer than the text: cut with room to spare.
            budget = max(1, len(rest) * limit // size(rendered) - 16)
            head, rest = _cut(rest, budget)
            out.append(_render_body(head, citations))
    return out


def pack(parts: Sequence[str], *, limit: int = LIMIT) -> list[str]:
    """Join blocks with blank lines into as few messages as fit under ``limit``."""
    messages: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}\n\n{part}" if current else part
        if size(candidate) <= limit:
            current = candidate
            continue
        if current:
            messages.append(current)
        current = part
    if current:
        messages.append(current)
    return messages


def citation_block(c: Citation) -> str:
    """One short citation line: the number and the title, linked to the source."""
    return link(esc(f"[{c.n}] {c.title}"), c.url)


def format_reply(reply: Reply, *, limit: int = LIMIT) -> list[str]:
    """A whole engine reply as Telegram HTML messages, in order."""
    cited = {c.n: c for c in reply.citations}
    parts: list[str] = []
    if reply.notice:
        parts.extend(f"<i>{b}</i>" for b in body_blocks(reply.notice, {}, limit=limit - 7))
    parts.extend(body_blocks(reply.body, cited, limit=limit))
    if reply.citations:
        heading = f"<b>{esc(reply.sources_heading)}</b>"
        lines = [citation_block(c) for c in reply.citations]
        parts.extend(lines_blocks([heading, *lines], limit=limit))
    if reply.footer:
        parts.extend(f"<i>{b}</i>" for b in body_blocks(reply.footer, {}, limit=limit - 7))
    return pack(parts, limit=limit)


def lines_blocks(lines: Sequence[str], *, limit: int = LIMIT) -> list[str]:
    """Short lines grouped into blocks of consecutive lines, each at most ``limit``."""
    out: list[str] = []
    for line in lines:
        if out and size(out[-1]) + 1 + size(line) <= limit:
            out[-1] = f"{out[-1]}\n{line}"
        else:
            out.append(line)
    return out


def format_text(plain: str, *, limit: int = LIMIT) -> list[str]:
    """A fixed plain text as escaped HTML messages."""
    return pack(body_blocks(plain, {}, limit=limit), limit=limit)


def format_sources(header: str, docs: Sequence[DocumentInfo], lang: str) -> list[str]:
    """The documents the bot answers from, each linked, with its checked-on date."""
    checked = esc(text("checked_on", lang))
    lines = [f"• {link(esc(d.title), d.url)} ({checked} {esc(d.checked_on)})" for d in docs]
    return pack([esc(header), *lines_blocks(lines)])
