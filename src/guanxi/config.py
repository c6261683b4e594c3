"""Settings, read from the environment (prefix ``GUANXI_``) and an optional ``.env`` file."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, IPvAnyNetwork
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path(user_data_dir("guanxi", appauthor=False))


def default_database_url() -> str:
    return f"sqlite:///{default_data_dir() / 'guanxi.db'}"


def _load_or_create_secret() -> str:
    """A secret key that survives restarts of an embedded install without being configured.

    Production sets ``GUANXI_SECRET_KEY``; the embedded default keeps a random key in the data
    directory (never in the repository).
    """
    path = default_data_dir() / "secret.key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GUANXI_", env_file=".env", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    # Uploaded import files and generated exports; shared by API servers and workers.
    data_dir: Path = Field(default_factory=default_data_dir)
    secret_key: str = Field(default_factory=_load_or_create_secret)
    base_url: str = "http://127.0.0.1:8000"
    default_language: Literal["zh_CN", "en"] = "zh_CN"
    session_days: int = 14
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    secure_cookies: bool = False
    # How long a dispatcher holds a message it is sending: a killed dispatcher's messages are
    # sent again (with the same key) once it runs out.
    dispatch_lease_s: float = Field(default=90.0, gt=0)
    # Networks webhooks may post to although they are not public (loopback, private, link-local
    # …, refused otherwise): a receiver on the company network, or ["127.0.0.0/8", "::1/128"]
    # for development. JSON in the environment.
    webhook_allowed_networks: list[IPvAnyNetwork] = Field(default_factory=list)


@lru_cache
def get_settings() -> Settings:
    return Settings()
