"""Settings: every knob is an ``EARNLOOP_*`` environment variable (or a line in ``.env``).

Defaults are safe for a laptop: an embedded SQLite file under ``./var/`` and no Redis.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/earnloop.db"


class Settings(BaseSettings):
    """Process-wide configuration, read once from the environment."""

    model_config = SettingsConfigDict(env_prefix="EARNLOOP_", env_file=".env", extra="ignore")

    database_url: str = Field(default=DEFAULT_DATABASE_URL, description="SQLAlchemy URL of the database.")
    redis_url: str | None = Field(default=None, description="Redis URL; in-process fallbacks when unset.")
    risk_velocity: Literal["memory", "redis"] = Field(
        default="memory",
        description="Where the risk engine keeps its velocity windows: memory (this process only) or redis "
        "(at EARNLOOP_REDIS_URL, shared by every process; one round trip per screened event).",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for admin-only endpoints (/v1/ledger). Unset: those endpoints answer 401.",
    )
    admin_token_file: str = Field(
        default="var/admin_token", description="File holding the admin token when the variable is unset."
    )
    app_secret: SecretStr | None = Field(
        default=None,
        description="Key signing the consumer app's CSRF cookies (at /app). Required in production (every "
        "server process must share it); in development app_secret_file is generated.",
    )
    app_secret_file: str = Field(
        default="var/app_secret", description="Development key file when EARNLOOP_APP_SECRET is unset."
    )
    environment: Literal["development", "production"] = Field(
        default="development",
        description="production refuses demo conveniences (the in-app fake payout provider).",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    trusted_proxies: str = Field(
        default="",
        max_length=4096,
        description="Comma-separated IP addresses / CIDR blocks of reverse proxies whose X-Forwarded-For "
        "and X-Forwarded-Proto headers are trusted. Empty: proxy headers are ignored and the peer address "
        "is the client IP.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token that opens /metrics (and nothing else) for a Prometheus scraper. /metrics "
        "also accepts the admin token; anonymous requests get 401.",
    )
    log_level: str = "INFO"
    opentelemetry: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry spans, metrics and logs, sent to the globally "
        "configured providers. Off: no per-request check for a provider (~30 µs a request).",
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    sqlite_cache_mib: int = Field(
        default=64,
        ge=1,
        le=65_536,
        description="SQLite page cache per connection, in MiB (filled only as pages are read).",
    )
    max_request_bytes: int = Field(
        default=21 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted (413 above it); routes may set smaller limits.",
    )
    max_anonymous_request_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest body of a request without credentials (no `Authorization` nor `X-Api-Key` "
        "header; 413 above it), so that nobody can make the server buffer large bodies without a "
        "credential. Postback receivers keep their own limit (64 KiB).",
    )
    # Secrets at rest (secretbox.py, ADR 0019)
    secrets_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys encrypting stored secrets (webhook signing secrets, payout "
        "account numbers): the first encrypts, all decrypt. Rotate: prepend a new key, run `earnloop secrets "
        "rotate`, then drop the old one. Required in production; development generates secrets_keys_file.",
    )
    secrets_keys_file: str = Field(
        default="var/secrets_keys", description="Development key file when EARNLOOP_SECRETS_KEYS is unset."
    )
    # Webhooks (outbox/)
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Allow webhook endpoints on loopback, private, link-local and other non-public "
        "addresses (development and tests only). Off: refused at registration and at every delivery.",
    )
    # Postbacks (tracking/)
    appsflyer_push_networks: list[str] | None = Field(
        default=None,
        description="CIDR blocks AppsFlyer Push API messages may come from (a second check after the "
        "push token). Unset: AppsFlyer's published blocks, as tracking/verifiers.py keeps them. JSON list "
        "in the environment.",
    )
    appsflyer_token_header: str = Field(
        default="Authorization",  # AppsFlyer's default token name
        pattern=r"^(Authorization|X-[A-Za-z0-9_-]{1,28})$",
        description="Header carrying the Push API authentication token, as set in AppsFlyer (its "
        "token_name: Authorization, or a name starting with X-, at most 30 characters).",
    )
    # Withdrawals (wallet/withdrawals/)
    payout_provider_url: str | None = Field(
        default=None,
        description="Base URL of the payout provider. Unset: the demo's fake provider, served by the "
        "API itself at /fake-payouts (the worker reaches it at http://host:port/fake-payouts).",
    )
    payout_timeout_s: float = Field(default=10.0, gt=0, le=300, description="Provider call timeout.")
    payout_callback_secret: SecretStr | None = Field(
        default=None, description="HMAC key of provider callbacks. Unset: callbacks answer 401."
    )
    payout_stale_after_s: int = Field(
        default=300, ge=0, description="Inquire about a withdrawal still in flight after this long."
    )
    withdrawal_min_amount: int = Field(default=100, ge=1, description="Minor units.")
    withdrawal_daily_limit: int = Field(default=5_000_000, ge=1, description="Minor units per day.")
    # E-invoice carriers (einvoice/)
    einvoice_key: SecretStr | None = Field(
        default=None,
        description="Fernet key (urlsafe base64, 32 bytes) encrypting carrier verification codes at rest. "
        "Required in production; in development a key file is generated (einvoice_key_file).",
    )
    einvoice_key_file: str = Field(
        default="var/einvoice_key", description="Development key file when EARNLOOP_EINVOICE_KEY is unset."
    )
    einvoice_api_url: str | None = Field(
        default=None,
        description="Base URL of the MoF e-invoice platform (https://api.einvoice.nat.gov.tw). Unset: the "
        "demo's fake platform served by the API itself at /fake-einvoice (the worker reaches it at "
        "http://host:port/fake-einvoice).",
    )
    einvoice_app_id: str = Field(default="EINV-DEMO", max_length=64, description="The platform appID.")
    einvoice_app_key: SecretStr | None = Field(
        default=None,
        description="The platform API key signing requests. Required in production; in development a key "
        "file is generated (einvoice_app_key_file).",
    )
    einvoice_app_key_file: str = Field(default="var/einvoice_app_key")
    einvoice_timeout_s: float = Field(default=15.0, gt=0, le=120, description="Platform call timeout.")
    einvoice_sync_interval_s: int = Field(
        default=6 * 3600,
        ge=60,
        description="The worker syncs (and rewards) each bound carrier whose last sync is older than this.",
    )
    # Risk lists, partner feeds and phone reputation (risk/, ADR 0026)
    risk_feed_signing_key_file: str | None = Field(
        default=None,
        max_length=4096,
        description="File holding our Ed25519 private key (PKCS#8 PEM) that signs the blocklist feeds we "
        "export; `earnloop risk feeds keygen` creates it (mode 0600). Unset: export is refused.",
    )
    risk_feed_issuer: str = Field(
        default="earnloop",
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$",
        description="Our name as the issuer of exported feeds (partners register our public key under it).",
    )
    phone_default_region: str = Field(
        default="TW",
        pattern=r"^[A-Z]{2}$",
        description="Region (ISO 3166-1 alpha-2) a phone number without a country code is read in.",
    )

    # Risk strategies (risk/strategies/, ADR 0025)
    risk_four_eyes: bool = Field(
        default=True,
        description="A strategy version goes live only when an operator other than its author approves it. "
        "false (small teams): the author may approve their own version, recorded as self-approved.",
    )
    risk_strategy_refresh_ms: int = Field(
        default=1_000,
        ge=0,
        le=60_000,
        description="How often each process checks whether the live or shadow strategy changed (one "
        "primary-key row read); a change is in force in every process within about this long. 0: on "
        "every decision.",
    )
    risk_strategy: str = Field(
        default="default",
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="The stored strategy every money event is decided by (its live version, hot-deployed); "
        "while it has no live version, the built-in default strategy decides.",
    )
    operator_token: SecretStr | None = Field(
        default=None,
        description="The operator token the `earnloop risk strategy` commands act under (the operator is "
        "recorded as author, approver…); created by `earnloop operators create`.",
    )

    webauthn_rp_id: str = Field(
        default="localhost",
        max_length=253,
        description="The passkeys' relying party id: the site's domain (browsers refuse WebAuthn on an IP "
        "address, so the development app is used at localhost).",
    )
    webauthn_rp_name: str = Field(
        default="earnloop", max_length=64, description="The name passkey dialogs show."
    )
    webauthn_origins: list[str] = Field(
        default=["http://localhost:8000"],
        min_length=1,
        max_length=16,
        description="Origins (scheme://host[:port]) a passkey ceremony may come from; any other is refused.",
    )
    passkey_threshold: int = Field(
        default=50_000,
        ge=0,
        description="Minor units: a payment, withdrawal or credit draw above it is confirmed with a passkey.",
    )
    credit_line_fee_bps: int = Field(
        default=0,
        ge=0,
        le=2_000,
        description="Fee of a credit-line draw in basis points of the amount (floored); shown in the quote.",
    )
    credit_line_cycle_days: int = Field(
        default=30, ge=1, le=366, description="Days of a credit-line statement period."
    )
    credit_line_grace_days: int = Field(
        default=20, ge=0, le=120, description="Days after a statement closes until it is due."
    )
    credit_line_minimum_bps: int = Field(
        default=1_000,
        ge=1,
        le=10_000,
        description="Minimum payment of a statement, in basis points of its balance (at least 1 unit).",
    )
    app_timezone: str = Field(
        default="Asia/Taipei",
        description="IANA time zone in which the app shows dates and times to users.",
    )

    @field_validator("app_timezone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Taipei)") from exc
        return value

    @field_validator("appsflyer_push_networks")
    @classmethod
    def _cidr_blocks(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not 1 <= len(value) <= 64:
            raise ValueError("1 to 64 CIDR blocks")
        for block in value:
            ipaddress.ip_network(block, strict=True)  # ValueError names the bad block
        return value

    @field_validator("phone_default_region")
    @classmethod
    def _phone_region(cls, value: str) -> str:
        import phonenumbers

        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value} is not a region phonenumbers knows")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (cached; tests build their own ``Settings``)."""
    return Settings()
