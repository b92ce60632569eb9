"""Updates the library cannot parse are skipped, not retried forever; the webhook body is bounded.

PTB parses a whole ``getUpdates`` batch at once. One update it cannot parse (an API change, a
self-hosted Bot API server, a proxy) makes the batch fail, the offset never moves, and the updater
asks again at once, forever, logging the raw batch each time (audit HIGH-2). Here each update is
parsed on its own first; one that fails is replaced by a bare ``{"update_id": n}`` (no content, no
handler matches it), so the offset moves past it and the rest of the batch is served.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import ApplicationBuilder, ExtBot
from tornado.httpserver import HTTPServer

log = logging.getLogger(__name__)


def sanitise_batch(result: Any, bot: Any) -> Any:
    """``result`` of ``getUpdates`` with every update PTB cannot parse reduced to its id (updates
    without a usable id are dropped). Logged by count and id only."""
    if not isinstance(result, list):
        return result
    kept: list[Any] = []
    skipped: list[int] = []
    for raw in result:
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            skipped.append(-1)
            continue
        try:
            usable = well_formed(Update.de_json(raw, bot))
        except Exception:  # anything the library cannot parse: skip it, keep the offset moving
            usable = False
        if not usable:
            skipped.append(update_id)
            kept.append({"update_id": update_id})
            continue
        kept.append(raw)
    if skipped:
        log.warning(
            "skipped %d update(s) the library cannot parse (ids %s; content not logged)",
            len(skipped),
            ",".join(str(i) for i in skipped[:10]),
        )
    return kept


def well_formed(update: Update) -> bool:
    """False for what PTB parses without complaint but no handler can use: a message without a
    chat or a date, a button tap without its sender (Telegram always sends them)."""
    message = update.message or update.edited_message or update.channel_post
    if message is not None and (message.chat is None or message.date is None):
        return False
    query = update.callback_query
    return query is None or query.from_user is not None


class SafeBot(ExtBot[Any]):
    """PTB's bot, with each update of a ``getUpdates`` batch checked before the batch is parsed."""

    async def _post(self, endpoint: str, data: Any = None, **kwargs: Any) -> Any:
        result = await super()._post(endpoint, data, **kwargs)
        if endpoint == "getUpdates":
            return sanitise_batch(result, self)
        return result


class SafeApplicationBuilder(ApplicationBuilder):
    """``ApplicationBuilder`` that builds a :class:`SafeBot` (same arguments as PTB's own)."""

    def _build_ext_bot(self) -> ExtBot[Any]:
        built = super()._build_ext_bot()
        bot = SafeBot(
            token=built.token,
            base_url=built.base_url.removesuffix(built.token),
            base_file_url=built.base_file_url.removesuffix(built.token),
            private_key=None,
            defaults=built.defaults,
            arbitrary_callback_data=False,
            request=built._request[1],
            get_updates_request=built._request[0],
            rate_limiter=built.rate_limiter,
            local_mode=built.local_mode,
        )
        return bot


def limit_webhook_body(max_bytes: int) -> None:
    """Refuse webhook requests whose body is larger than ``max_bytes`` before reading them
    (tornado checks Content-Length first; PTB's webhook server takes tornado's defaults, so they
    are set here, for every ``HTTPServer`` of the process: the webhook is the only one)."""
    HTTPServer.configure(None, max_body_size=max_bytes, max_buffer_size=max_bytes * 2)
