"""Webhook mode with several replicas: one shared secret, and one process that registers it.

Telegram keeps one webhook per bot. If every replica called ``setWebhook`` with its own secret, the
last one would win and the others would answer every update with 403 (the audit saw exactly
that). So the secret comes from settings (required when ``KYR_REPLICAS`` > 1), and only one
process registers: with ``KYR_WEBHOOK_REGISTER=auto`` the first replica to start with a given URL
and secret claims the registration in the shared state database; the others, and later restarts
with the same configuration, skip ``setWebhook`` and just serve.

PTB's ``start_webhook`` always calls ``setWebhook``. The documented hook around every Bot API
request of an ``ExtBot`` is its rate limiter, so a replica that must not register wraps its rate
limiter in ``SkipWebhookRegistration``, which answers ``setWebhook`` itself (Telegram is not
called) and passes every other request through unchanged. This avoids re-implementing PTB's
webhook server or overriding its private bootstrap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import BaseRateLimiter

from bot.settings import BotSettings
from bot.state import State
from bot.tg.order import ChatOrderedProcessor

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]


class SkipWebhookRegistration(BaseRateLimiter[Any]):
    """A rate limiter that leaves ``setWebhook`` to another replica and delegates the rest."""

    def __init__(self, inner: BaseRateLimiter[Any]) -> None:
        self.inner = inner
        self.skipped = 0

    async def initialize(self) -> None:
        """Set up the wrapped limiter."""
        await self.inner.initialize()

    async def shutdown(self) -> None:
        """Shut down the wrapped limiter."""
        await self.inner.shutdown()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Any,
    ) -> bool | JSONDict | list[JSONDict]:
        """Answer ``setWebhook`` as done; send everything else through the wrapped limiter."""
        if endpoint == "setWebhook":
            self.skipped += 1
            return True
        return await self.inner.process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )


def check_replicas(settings: BotSettings) -> None:
    """Refuse a configuration in which replicas would fight over the webhook."""
    if settings.replicas > 1 and settings.webhook_url and settings.webhook_secret is None:
        raise ValueError(
            "KYR_WEBHOOK_SECRET is required when KYR_REPLICAS > 1: every replica must check the "
            "same secret (for example: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )


def registers_webhook(settings: BotSettings, state: State, secret: str) -> bool:
    """Whether this process calls ``setWebhook`` (see ``KYR_WEBHOOK_REGISTER``)."""
    if settings.webhook_register == "always":
        return True
    if settings.webhook_register == "never":
        return False
    if settings.replicas == 1:
        return True
    assert settings.webhook_url is not None
    return state.claim_webhook(settings.webhook_url, secret)


class AnsweredQueue(asyncio.Queue[object]):
    """The update queue of webhook mode: ``put`` returns once the update has been handled.

    PTB's webhook handler answers Telegram as soon as it has put the update in this queue. Making
    ``put`` wait until the update is handled (or ``deadline_s`` passes) means the HTTP answer goes
    back only after the reply was sent. Telegram sends a chat's next update only after the webhook
    answered the previous one, so with any number of replicas behind a load balancer a chat's
    updates are handled one after another, in order, whichever replica each one reaches.
    """

    def __init__(self, deadline_s: float) -> None:
        super().__init__()
        self.deadline_s = deadline_s
        self._pending: dict[int, asyncio.Event] = {}

    async def put(self, item: object) -> None:
        """Queue ``item``; for an update, wait until it was handled (at most ``deadline_s``)."""
        if not isinstance(item, Update):
            await super().put(item)
            return
        done = self._pending.setdefault(id(item), asyncio.Event())
        try:
            await super().put(item)
            await asyncio.wait_for(done.wait(), self.deadline_s)
        except TimeoutError:
            log.warning(
                "an update took longer than %.0f s; answered the webhook anyway", self.deadline_s
            )
        finally:
            self._pending.pop(id(item), None)

    def handled(self, update: object) -> None:
        """Called by the processor when ``update`` is done (answered, failed or skipped)."""
        done = self._pending.get(id(update))
        if done is not None:
            done.set()


class AnsweringProcessor(ChatOrderedProcessor):
    """The chat-ordered processor that tells an ``AnsweredQueue`` when each update is done."""

    def __init__(self, queue: AnsweredQueue, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self.queue = queue

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Process as usual, then release the webhook request that brought ``update``."""
        try:
            await super().do_process_update(update, coroutine)
        finally:
            self.queue.handled(update)
