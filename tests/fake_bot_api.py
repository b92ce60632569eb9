"""A fake Telegram Bot API server on loopback, for running the real PTB ``Application`` over HTTP.

It speaks just enough of the Bot API for the bot: ``getMe``, long-polling ``getUpdates`` fed from a
queue the test pushes updates into, the send/edit/answer methods, and the webhook methods. Every
call is recorded with its decoded parameters. Tests can make a method fail (a 429 with
``retry_after``, a 5xx) a number of times.

PTB posts form-encoded bodies in which only objects and lists are JSON, so values are decoded
field by field.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web

TOKEN = "123456:TEST-fake-token-do-not-use"
BOT_ID = 123456
BOT_USERNAME = "kyr_test_bot"
_INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "timeout", "user_id"}


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    """A planned error answer for the next ``times`` calls of a method."""

    times: int
    status: int
    retry_after: int | None = None


class FakeBotApi:
    """The server and everything it has seen."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._by_chat: dict[tuple[str, object], list[Call]] = {}
        self.updates: list[dict[str, Any]] = []
        self.pushed_at: dict[int, float] = {}
        self.failures: dict[str, Failure] = {}
        self.webhook_url = ""
        self.chat_types: dict[int, str] = {}
        self._next_update = 1
        self._next_message = 1000
        self._changed = asyncio.Event()
        self._stopping = False
        self._server: tornado.httpserver.HTTPServer | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = tornado.web.Application(
            [(r"/bot([^/]+)/([A-Za-z]+)", _Handler, {"fake": self})],
            log_function=lambda handler: None,  # access logs would carry the token in the path
        )
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        self.port = sockets[0].getsockname()[1]
        self._server = tornado.httpserver.HTTPServer(app)
        self._server.add_sockets(sockets)

    async def stop(self) -> None:
        """Wake every waiting long poll and close the server."""
        self._stopping = True
        self._changed.set()
        await asyncio.sleep(0)
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()

    @property
    def base_url(self) -> str:
        """The ``KYR_TELEGRAM_API_URL`` for this server."""
        return f"http://127.0.0.1:{self.port}/bot"

    # -- what the bot sees -----------------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update (its ``update_id`` is assigned here) for the next ``getUpdates``."""
        update = {"update_id": self._next_update, **update}
        self._next_update += 1
        self.updates.append(update)
        self.pushed_at[update["update_id"]] = time.monotonic()
        self._changed.set()
        return update

    def next_message_id(self) -> int:
        """A fresh message id."""
        self._next_message += 1
        return self._next_message

    def user(self, user_id: int, language_code: str | None = "en", **extra: Any) -> dict[str, Any]:
        """A Telegram user object."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": "Resident"}
        if language_code:
            user["language_code"] = language_code
        return {**user, **extra}

    def chat(self, chat_id: int, chat_type: str = "private") -> dict[str, Any]:
        """A Telegram chat object."""
        self.chat_types[chat_id] = chat_type
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = "Community group"
        return chat

    def message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        user_id: int | None = None,
        language_code: str | None = "en",
        chat_type: str = "private",
        reply_to_bot: bool = False,
        user_extra: dict[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Push a message update; commands and @mentions get their entities, as Telegram does."""
        message: dict[str, Any] = {
            "message_id": self.next_message_id(),
            "date": int(time.time()),
            "chat": self.chat(chat_id, chat_type),
            "from": self.user(user_id or chat_id, language_code, **(user_extra or {})),
            **extra,
        }
        if text is not None:
            message["text"] = text
            entities = _entities(text)
            if entities:
                message["entities"] = entities
        if reply_to_bot:
            message["reply_to_message"] = {
                "message_id": self.next_message_id(),
                "date": int(time.time()),
                "chat": self.chat(chat_id, chat_type),
                "from": self.bot_user(),
                "text": "earlier answer",
            }
        return self.push({"message": message})

    def callback(
        self,
        chat_id: int,
        data: str,
        *,
        message_id: int | None = None,
        user_id: int | None = None,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        """Push a button tap on a message the bot sent."""
        chat_type = self.chat_types.get(chat_id, "private")
        return self.push(
            {
                "callback_query": {
                    "id": str(self.next_message_id()),
                    "from": self.user(user_id or chat_id, language_code),
                    "chat_instance": f"ci{chat_id}",
                    "data": data,
                    "message": {
                        "message_id": message_id or self.next_message_id(),
                        "date": int(time.time()),
                        "chat": self.chat(chat_id, chat_type),
                        "from": self.bot_user(),
                        "text": "buttons",
                    },
                }
            }
        )

    def bot_user(self) -> dict[str, Any]:
        """The bot's own user object."""
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "KYR Bot",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    # -- failures and inspection -----------------------------------------------------------------

    def fail(
        self, method: str, times: int = 1, status: int = 500, retry_after: int | None = None
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error."""
        self.failures[method] = Failure(times, status, retry_after)

    def of(self, method: str, chat_id: int | None = None) -> list[Call]:
        """Recorded calls of ``method`` (to ``chat_id`` if given)."""
        if chat_id is not None:
            return list(self._by_chat.get((method, chat_id), []))
        return [c for c in self.calls if c.method == method]

    def texts(self, chat_id: int) -> list[str]:
        """Texts the bot sent to a chat, in order."""
        return [c.params["text"] for c in self.of("sendMessage", chat_id)]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        """Wait until ``predicate()`` holds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("the bot did not do what the test expected in time")
            await asyncio.sleep(0.02)

    async def wait_messages(self, chat_id: int, count: int, timeout: float = 30.0) -> list[str]:
        """Wait for ``count`` messages to a chat and return all its texts."""
        await self.wait_for(lambda: len(self.of("sendMessage", chat_id)) >= count, timeout)
        return self.texts(chat_id)

    # -- the API ---------------------------------------------------------------------------------

    async def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The status and JSON body for one call."""
        call = Call(method, params)
        self.calls.append(call)
        self._by_chat.setdefault((method, params.get("chat_id")), []).append(call)
        failure = self.failures.get(method)
        if failure and failure.times > 0:
            failure.times -= 1
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": "Too Many Requests" if failure.status == 429 else "Server Error",
            }
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return failure.status, body
        if method == "getUpdates":
            return 200, {"ok": True, "result": await self._get_updates(params)}
        return 200, {"ok": True, "result": self._result(method, params)}

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if self.updates or self._stopping or time.monotonic() >= deadline:
                return self.updates[:limit]
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
            except TimeoutError:
                return []

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return self.bot_user()
        if method in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
            chat_id = int(params.get("chat_id", 0))
            message: dict[str, Any] = {
                "message_id": int(params.get("message_id") or self.next_message_id()),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": self.chat_types.get(chat_id, "private")},
                "from": self.bot_user(),
                "text": params.get("text", "buttons"),
            }
            if "reply_markup" in params:
                message["reply_markup"] = params["reply_markup"]
            return message
        if method == "setWebhook":
            self.webhook_url = str(params.get("url", ""))
            return True
        if method == "deleteWebhook":
            self.webhook_url = ""
            return True
        if method == "getWebhookInfo":
            return {
                "url": self.webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": 0,
            }
        if method == "getMyCommands":
            return []
        return True


def _entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` and ``mention`` entities, with offsets in UTF-16 code units."""
    entities: list[dict[str, Any]] = []
    offset = 0
    for word in text.split(" "):
        if word.startswith("/") and offset == 0 and len(word) > 1:
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(word)})
        elif word.startswith("@") and len(word) > 1:
            entities.append({"type": "mention", "offset": offset, "length": utf16_len(word)})
        offset += utf16_len(word) + 1
    return entities


def _decode(name: str, value: str) -> Any:
    if name in _INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            return value
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class _Handler(tornado.web.RequestHandler):
    """Routes ``/bot<token>/<method>`` to the fake."""

    def initialize(self, fake: FakeBotApi) -> None:
        self.fake = fake

    async def post(self, token: str, method: str) -> None:
        if token != TOKEN:
            self.set_status(401)
            self.finish({"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        params = {
            name: _decode(name, values[-1].decode())
            for name, values in self.request.body_arguments.items()
        }
        if (
            not params
            and self.request.body
            and self.request.headers.get("Content-Type", "").startswith("application/json")
        ):
            params = json.loads(self.request.body)
        status, body = await self.fake.handle(method, params)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        with contextlib.suppress(tornado.iostream.StreamClosedError):
            await self.finish(json.dumps(body))
