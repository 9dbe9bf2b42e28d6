"""Pure validation of catalog input (no I/O): raw dicts (from JSON, CSV or HTTP) → typed specs, or a
list of (field, message) problems. The importer and the service share it, so every path checks alike."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from earnloop.catalog.errors import CatalogError
from earnloop.currencies import UnknownCurrencyError, currency

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
CATEGORY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
PROVIDER_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
APP_STORE_RE = re.compile(r"^[0-9]{6,12}$")
PLAY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
PLATFORMS = frozenset({"ios", "android", "web", "pc", "console"})
GAME_STATUSES = frozenset({"draft", "active", "paused", "retired"})
CAMPAIGN_STATUSES = frozenset({"active", "paused", "ended"})
BUDGET_MODES = frozenset({"pay_partial", "all_or_nothing"})
AMOUNT_MAX = 1 << 62
MULTIPLIER_MIN_BPS, MULTIPLIER_MAX_BPS = 10_000, 100_000
TWO_X_BPS = 20_000
LOCK_PERIOD_MAX_DAYS = 365
Problems = list[tuple[str, str]]


def invalid(problems: Problems) -> CatalogError:
    """One error naming every problem (``field: message; …``)."""
    return CatalogError("; ".join(f"{name}: {message}" for name, message in problems))


def valid_tax_id(value: str) -> bool:
    """Taiwan 統一編號: 8 digits; weights 1,2,1,2,1,2,4,1; the digit sums of the products add up to a
    multiple of 5 (10 before 2023, still valid); when the 7th digit is 7 its product 28 counts 1 or 0."""
    if not re.fullmatch(r"[0-9]{8}", value):
        return False
    total = 0
    for digit, weight in zip((int(c) for c in value), (1, 2, 1, 2, 1, 2, 4, 1), strict=True):
        product = digit * weight
        total += product // 10 + product % 10
    # 7*4 = 28 → 2+8 = 10: counts as 1 (or 0 when the 7th digit is 7)
    if value[6] == "7":
        return (total - 9) % 5 == 0 or (total - 10) % 5 == 0
    return total % 5 == 0


class _Reader:
    """Reads typed fields out of a raw dict, collecting problems instead of raising."""

    def __init__(self, raw: dict[str, Any], prefix: str = "") -> None:
        self.raw = raw
        self.prefix = prefix
        self.problems: Problems = []

    def bad(self, name: str, message: str) -> None:
        self.problems.append((self.prefix + name, message))

    def _get(self, name: str) -> Any:
        value = self.raw.get(name)
        return None if value is None or (isinstance(value, str) and value.strip() == "") else value

    def text(
        self,
        name: str,
        max_len: int,
        *,
        required: bool = True,
        pattern: re.Pattern[str] | None = None,
        default: str = "",
    ) -> str:
        value = self._get(name)
        if value is None:
            if required:
                self.bad(name, "is required")
            return default
        if not isinstance(value, str):
            self.bad(name, "must be text")
            return default
        value = value.strip()
        if len(value) > max_len:
            self.bad(name, f"at most {max_len} characters")
        elif pattern is not None and not pattern.fullmatch(value):
            self.bad(name, f"must match {pattern.pattern}")
        return value

    def opt_text(self, name: str, max_len: int, pattern: re.Pattern[str]) -> str | None:
        if self._get(name) is None:
            return None
        return self.text(name, max_len, pattern=pattern) or None

    def integer(self, name: str, lo: int, hi: int, *, required: bool = True, default: int = 0) -> int:
        value = self._get(name)
        if value is None:
            if required:
                self.bad(name, "is required")
            return default
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,20}", value.strip()):
            value = int(value.strip())
        if not isinstance(value, int) or isinstance(value, bool):
            self.bad(name, "must be an integer")
            return default
        if not lo <= value <= hi:
            self.bad(name, f"must be between {lo} and {hi}")
            return default
        return value

    def opt_integer(self, name: str, lo: int, hi: int) -> int | None:
        return None if self._get(name) is None else self.integer(name, lo, hi)

    def words(self, name: str, allowed: frozenset[str] | None, pattern: re.Pattern[str] | None) -> list[str]:
        """A list: JSON array, or text separated by ',' ';' '|' or spaces."""
        value = self._get(name)
        if value is None:
            return []
        items = value if isinstance(value, list) else re.split(r"[,;| ]+", str(value))
        out: list[str] = []
        for item in items:
            word = str(item).strip().lower()
            if not word:
                continue
            if allowed is not None and word not in allowed:
                self.bad(name, f"{word!r} is not one of {', '.join(sorted(allowed))}")
            elif pattern is not None and not pattern.fullmatch(word):
                self.bad(name, f"{word!r} must match {pattern.pattern}")
            elif word not in out:
                out.append(word)
        return out

    def currency_code(self, name: str, default: str = "TWD") -> str:
        value = self.text(name, 3, required=False, default=default).upper()
        try:
            return currency(value).code
        except UnknownCurrencyError:
            self.bad(name, f"unknown currency {value!r}")
            return default

    def choice(self, name: str, allowed: frozenset[str], default: str) -> str:
        value = self.text(name, 32, required=False, default=default).lower()
        if value not in allowed:
            self.bad(name, f"must be one of {', '.join(sorted(allowed))}")
        return value


@dataclass(frozen=True)
class MerchantSpec:
    key: str
    partner_id: int
    name: str
    category: str
    logo_url: str
    tracking_template: str
    tax_ids: list[str]
    rates: dict[str, int]  # category → basis points
    lock_period_days: int
    payout_terms: str


def _rates(reader: _Reader, name: str) -> dict[str, int]:
    value = reader.raw.get(name)
    if value is None or value == "":
        return {}
    pairs: list[tuple[Any, Any]]
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, str):
        pairs = []
        for part in re.split(r"[;,]", value):
            if not part.strip():
                continue
            cat, sep, bps = part.partition(":")
            if not sep:
                reader.bad(name, f"{part.strip()!r}: write category:basis_points, e.g. travel:500")
                continue
            pairs.append((cat.strip(), bps.strip()))
    else:
        reader.bad(name, "must be an object {category: basis_points} or text 'travel:500;fashion:300'")
        return {}
    rates: dict[str, int] = {}
    for cat, bps in pairs:
        cat = str(cat).lower()
        if not CATEGORY_RE.fullmatch(cat):
            reader.bad(name, f"category {cat!r} must match {CATEGORY_RE.pattern}")
            continue
        number = int(bps) if isinstance(bps, str) and bps.isdigit() else bps
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 10_000:
            reader.bad(name, f"{cat}: rate must be 0–10000 basis points")
            continue
        rates[cat] = number
    return rates


def merchant_spec(raw: dict[str, Any]) -> tuple[MerchantSpec | None, Problems]:
    r = _Reader(raw)
    key = r.text("key", 64, pattern=KEY_RE)
    partner_id = r.integer("partner_id", 1, (1 << 63) - 1)
    name = r.text("name", 120)
    category = r.text("category", 32, pattern=CATEGORY_RE)
    logo_url = r.text("logo_url", 500, required=False)
    if logo_url and not logo_url.startswith(("https://", "http://")):
        r.bad("logo_url", "must be an http(s) URL")
    template = r.text("tracking_template", 1000, required=False)
    if template and not template.startswith(("https://", "http://")):
        r.bad("tracking_template", "must be an http(s) URL")
    tax_ids = r.words("tax_ids", None, None)
    for tax_id in tax_ids:
        if not valid_tax_id(tax_id):
            r.bad("tax_ids", f"{tax_id!r} is not a valid 統一編號 (8 digits with checksum)")
    rates = _rates(r, "rates")
    lock = r.integer("lock_period_days", 0, LOCK_PERIOD_MAX_DAYS, required=False, default=30)
    terms = r.text("payout_terms", 200, required=False)
    if r.problems:
        return None, r.problems
    spec = MerchantSpec(key, partner_id, name, category, logo_url, template, tax_ids, rates, lock, terms)
    return spec, []


@dataclass(frozen=True)
class MilestoneSpec:
    key: str
    title: str
    goal: str
    within_days: int | None
    reward_amount: int
    per_user_limit: int
    position: int


@dataclass(frozen=True)
class GameSpec:
    key: str
    title: str
    platforms: list[str]
    app_store_id: str | None
    play_package: str | None
    tracking_provider: str
    tags: list[str]
    status: str
    currency: str
    publisher_id: int | None
    milestones: list[MilestoneSpec] = field(default_factory=list)
    lock_period_days: int = 0


def milestone_spec(raw: dict[str, Any], prefix: str = "") -> tuple[MilestoneSpec | None, Problems]:
    r = _Reader(raw, prefix)
    spec = MilestoneSpec(
        key=r.text("key", 64, pattern=KEY_RE),
        title=r.text("title", 200),
        goal=r.text("goal", 200, required=False),
        within_days=r.opt_integer("within_days", 1, 3650),
        reward_amount=r.integer("reward_amount", 1, AMOUNT_MAX),
        per_user_limit=r.integer("per_user_limit", 1, 1_000_000, required=False, default=1),
        position=r.integer("position", 0, 10_000, required=False, default=0),
    )
    return (None, r.problems) if r.problems else (spec, [])


def game_spec(raw: dict[str, Any]) -> tuple[GameSpec | None, Problems]:
    r = _Reader(raw)
    key = r.text("key", 64, pattern=KEY_RE)
    title = r.text("title", 200)
    platforms = r.words("platforms", PLATFORMS, None)
    if not platforms and not any(p[0] == "platforms" for p in r.problems):
        r.bad("platforms", "at least one of " + ", ".join(sorted(PLATFORMS)))
    app_store_id = r.opt_text("app_store_id", 20, APP_STORE_RE)
    play_package = r.opt_text("play_package", 150, PLAY_RE)
    if "ios" in platforms and app_store_id is None:
        r.bad("app_store_id", "is required for ios")
    if "android" in platforms and play_package is None:
        r.bad("play_package", "is required for android")
    provider = r.text("tracking_provider", 40, pattern=PROVIDER_RE)
    tags = r.words("tags", None, TAG_RE)
    status = r.choice("status", GAME_STATUSES, "draft")
    cur = r.currency_code("currency")
    publisher_id = r.opt_integer("publisher_id", 1, (1 << 63) - 1)
    lock = r.integer("lock_period_days", 0, LOCK_PERIOD_MAX_DAYS, required=False, default=0)
    milestones: list[MilestoneSpec] = []
    raw_milestones = raw.get("milestones") or []
    if not isinstance(raw_milestones, list):
        r.bad("milestones", "must be a list")
        raw_milestones = []
    seen: set[str] = set()
    for index, item in enumerate(raw_milestones):
        prefix = f"milestones[{index}]."
        if not isinstance(item, dict):
            r.bad(f"milestones[{index}]", "must be an object")
            continue
        spec, problems = milestone_spec(item, prefix)
        r.problems.extend(problems)
        if spec is not None:
            if spec.key in seen:
                r.bad(prefix + "key", f"duplicate milestone {spec.key!r}")
            seen.add(spec.key)
            milestones.append(spec)
    if r.problems:
        return None, r.problems
    game = GameSpec(
        key,
        title,
        platforms,
        app_store_id,
        play_package,
        provider,
        tags,
        status,
        cur,
        publisher_id,
        milestones,
        lock,
    )
    return game, []


@dataclass(frozen=True)
class CampaignSpec:
    key: str
    name: str
    currency: str
    multiplier_bps: int
    fixed_bonus: int
    starts_at_ns: int
    ends_at_ns: int
    per_user_cap: int | None
    budget_total: int
    budget_mode: str
    status: str
    game_keys: list[str]
    merchant_keys: list[str]


def campaign_spec(raw: dict[str, Any]) -> tuple[CampaignSpec | None, Problems]:
    r = _Reader(raw)
    ns_max = (1 << 63) - 1
    spec = CampaignSpec(
        key=r.text("key", 64, pattern=KEY_RE),
        name=r.text("name", 200),
        currency=r.currency_code("currency"),
        multiplier_bps=r.integer(
            "multiplier_bps", MULTIPLIER_MIN_BPS, MULTIPLIER_MAX_BPS, required=False, default=10_000
        ),
        fixed_bonus=r.integer("fixed_bonus", 0, AMOUNT_MAX, required=False),
        starts_at_ns=r.integer("starts_at_ns", 0, ns_max),
        ends_at_ns=r.integer("ends_at_ns", 1, ns_max),
        per_user_cap=r.opt_integer("per_user_cap", 1, 1_000_000),
        budget_total=r.integer("budget_total", 1, AMOUNT_MAX),
        budget_mode=r.choice("budget_mode", BUDGET_MODES, "pay_partial"),
        status=r.choice("status", CAMPAIGN_STATUSES, "active"),
        game_keys=r.words("games", None, KEY_RE),
        merchant_keys=r.words("merchants", None, KEY_RE),
    )
    if not r.problems:
        if spec.ends_at_ns <= spec.starts_at_ns:
            r.bad("ends_at_ns", "must be after starts_at_ns")
        if spec.multiplier_bps == 10_000 and spec.fixed_bonus == 0:
            r.bad("multiplier_bps", "a campaign needs a multiplier above 10000 or a fixed bonus")
        if not spec.game_keys and not spec.merchant_keys:
            r.bad("games", "target at least one game or merchant")
    return (None, r.problems) if r.problems else (spec, [])
