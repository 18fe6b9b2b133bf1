"""Settings, read from the environment and a ``.env`` file (see ``.env.example``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str | None = None
    telegram_base_file_url: str | None = None
    database_path: Path = Path("data/partenariats.sqlite3")
    flows_dir: Path = Path("conversations")
    admin_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    timezone: str = "Europe/Paris"
    log_level: str = "INFO"
    # Telegram's documented budgets; tests set them to 0 (no limiter) to run at full speed.
    rate_limit_overall_per_second: Annotated[float, Field(ge=0)] = 30
    rate_limit_group_per_minute: Annotated[float, Field(ge=0)] = 20
    rate_limit_max_retries: Annotated[int, Field(ge=0)] = 3
    polling_timeout: Annotated[int, Field(ge=0)] = 30
    # Updates of different chats handled at the same time (each chat's stay in order): a busy
    # group waiting out its rate limit slows nobody else. An update spends most of its time
    # waiting (on the database's thread, on Telegram): 64 keep the event loop fed and let
    # more writes share a commit (bench: +15 % updates/s over 16 with 200 groups, no gain
    # measured beyond; python-telegram-bot's own ``concurrent_updates(True)`` is 256).
    concurrent_updates: Annotated[int, Field(ge=1)] = 64
    # A call to Telegram that takes longer (to connect, send or answer) fails with TimedOut:
    # a question is then asked again by the member, an outcome or summary is retried.
    telegram_timeout_seconds: Annotated[float, Field(gt=0)] = 10
    # The outbox (outcomes, summaries, reminders, follow-ups) tries a failed message again
    # after this many seconds, then twice as long each time, an hour at most.
    outbox_retry_seconds: Annotated[float, Field(gt=0)] = 5
    # Consent rounds: the live tally message is edited at most once per this many seconds
    # (a burst of presses makes one edit); tests shorten it.
    consent_edit_interval_seconds: Annotated[float, Field(ge=0)] = 3
    # Review dates: how often the bot looks for follow-ups to post, and from which local hour
    # a day's follow-ups go out.
    review_check_minutes: Annotated[float, Field(gt=0)] = 5
    review_post_hour: Annotated[int, Field(ge=0, le=23)] = 10
    # Flow uploads (/flux), which any group's admins can send (docs/flux.md): the time one
    # file's parse may take, uploads per chat in 24 hours, and uploaded versions kept per chat
    # (the oldest no request or member uses are forgotten first).
    flow_upload_parse_seconds: Annotated[float, Field(gt=0)] = 10
    flow_uploads_per_day: Annotated[int, Field(ge=1)] = 10
    flow_versions_kept: Annotated[int, Field(ge=1)] = 20

    # Webhook mode, for hosting behind HTTPS: set WEBHOOK_URL and Telegram pushes updates to
    # it instead of being polled. The secret is checked on every request (403 otherwise).
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: Annotated[int, Field(gt=0, lt=65536)] = 8443
    webhook_path: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-/]*$")] = "telegram"

    @model_validator(mode="after")
    def _webhook_has_a_secret(self) -> Settings:
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
        if self.webhook_url and not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret):
            raise ValueError("WEBHOOK_SECRET (16 to 256 characters among A-Z a-z 0-9 _ -) is required with WEBHOOK_URL")
        return self

    @field_validator("admin_user_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(";", ",").split(",") if part.strip())
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
