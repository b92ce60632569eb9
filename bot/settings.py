"""Typed settings of the bot process: the index settings plus Telegram, state and answer options."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from ingest.settings import IndexSettings


class BotSettings(IndexSettings):
    """Everything the bot reads from the environment. Built once in ``main()``."""

    # hide_input_in_errors: a mistyped secret must not be printed in the error
    model_config = SettingsConfigDict(env_prefix="KYR_", extra="ignore", hide_input_in_errors=True)

    telegram_bot_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "KYR_TELEGRAM_BOT_TOKEN"),
        description="Telegram bot token; unset = terminal chat instead of Telegram.",
    )
    telegram_api_url: str = Field(
        "https://api.telegram.org/bot",
        description="Bot API base URL, token appended (a self-hosted Bot API server, or a fake).",
    )
    admin_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="Telegram user ids allowed to use /stats and /reload (comma-separated).",
    )
    webhook_url: str | None = Field(
        None, description="Public HTTPS URL for webhook mode; unset = long polling."
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="Secret token Telegram sends back on webhook calls (1-256 of A-Z a-z 0-9 _ -); "
        "generated at start if unset, which only works with one replica.",
    )
    replicas: int = Field(
        1,
        ge=1,
        description="How many bot processes serve this bot behind one webhook; above 1, "
        "KYR_WEBHOOK_SECRET and a shared secret for the state are required.",
    )
    webhook_register: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Who calls setWebhook: 'auto' = the only replica, or with several the first "
        "to start with this URL and secret (claimed in the state database); 'always'; 'never'.",
    )
    webhook_listen: str = Field("127.0.0.1", description="Address the webhook server listens on.")
    webhook_port: int = Field(8443, description="Port the webhook server listens on.")
    webhook_answer_s: float = Field(
        50.0,
        gt=0,
        description="A webhook request is answered once its update is handled, or after this many "
        "seconds (keeps each chat in order across replicas).",
    )
    state_url: str | None = Field(
        None,
        description="Database of the bot's state: unset = SQLite at data_dir/state.sqlite3 (one "
        "machine); postgresql://user@host/db for several processes or machines.",
    )
    state_secret: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("KYR_STATE_SECRET", "KYR_STATE_SALT"),
        description="Key of the HMAC that turns chat ids into stored keys (16+ characters, the "
        "same on every replica, never stored beside the data).",
    )
    state_secret_file: Path | None = Field(
        None,
        description="A file holding the state secret (a mounted secret); used when "
        "KYR_STATE_SECRET is unset.",
    )
    config_dir: Path = Field(
        default_factory=lambda: _default_config_dir(),
        description="Where a local SQLite deployment keeps its generated state secret "
        "(default $XDG_CONFIG_HOME/kyr-bot or ~/.config/kyr-bot); never inside data_dir.",
    )
    rate_limit_messages: int = Field(
        10, description="Questions a chat may send per rate-limit window."
    )
    rate_limit_window_s: int = Field(60, description="Length of the rate-limit window in seconds.")
    max_question_chars: int = Field(
        2000, description="Longer questions are cut to this many characters before answering."
    )
    min_score: float = Field(
        0.0,
        description="Override of the fitted answer-probability threshold (0 = use the policy file).",
    )
    index_check_s: float = Field(
        10.0, description="How often the bot looks for a newly ingested index, in seconds."
    )
    llm: str | None = Field(
        None,
        description="Optional LLM as 'provider:model' for LangChain's init_chat_model; unset = "
        "extractive answers only.",
    )
    llm_timeout_s: float = Field(8.0, description="Time limit for an LLM answer before fallback.")
    engine_timeout_s: float = Field(
        8.0,
        description="Deadline of one engine call from Telegram (answer, topics, section); past it "
        "the resident gets the apology with the hotline, or the built-in steps if urgent.",
    )
    state_timeout_s: float = Field(
        2.0,
        gt=0,
        description="Longest wait for the state database (lock, connection, query), and the "
        "deadline of one state call from Telegram (language, rate limit, feedback); past it the "
        "bot answers without the state (no rate limit, the app's language).",
    )
    embed_batch: bool = Field(
        True,
        description="Embed questions that arrive together in one model call (bot/batching.py); "
        "false = one question at a time behind a lock, as before.",
    )
    embed_batch_window_ms: float = Field(
        2.0,
        ge=0,
        description="How long the batcher waits for more questions after the first, in ms.",
    )
    embed_batch_max: int = Field(32, ge=1, description="Most questions in one embedding call.")
    embed_queue_max: int = Field(
        512,
        ge=1,
        description="Questions that may wait for the embedding model; past it a question gets the "
        "'try again' apology at once.",
    )
    engine_workers: int = Field(
        16,
        ge=1,
        description="Engine calls from Telegram that run at once (threads); with batching, more "
        "waiting questions make bigger batches.",
    )
    max_work_chars: int = Field(
        600,
        description="Telegram messages are cleaned and cut to this many characters before any "
        "detection or embedding, so a hostile message costs about what an ordinary one does.",
    )
    rate_limit_taps: int = Field(
        30, description="Button taps and commands a chat may send per rate-limit window."
    )
    webhook_max_body_bytes: int = Field(
        1_000_000,
        description="Webhook requests with a larger body are refused before the body is read.",
    )
    startup_retry_s: float = Field(
        30.0,
        description="Wait between start-up attempts when Telegram or the state cannot be reached.",
    )

    @property
    def state_database_url(self) -> str:
        """``state_url``, or the SQLite file under ``data_dir``."""
        return self.state_url or f"sqlite:///{self.data_dir / 'state.sqlite3'}"

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(v) for v in value.replace(" ", "").split(",") if v]
        if isinstance(value, int):
            return [value]
        return value


def _default_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kyr-bot"
