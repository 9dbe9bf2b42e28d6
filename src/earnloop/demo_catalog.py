"""The demo's catalog (``earnloop demo seed``): partner merchants with seller tax ids, cashback rates and
lock periods; games with their milestones and publishers; and the funded "2x zone" campaign. Data only:
``earnloop.demo`` writes it through the catalog service."""

from __future__ import annotations

from typing import Any

MERCHANT = "Good Neighbour Store"
PUBLISHER = "Pixel Harbor Studios"

# Partner name → merchant entry. Tax ids are made up but pass the 統一編號 checksum.
MERCHANTS: dict[str, dict[str, Any]] = {
    MERCHANT: {
        "key": "good-neighbour",
        "tracking_template": "https://good-neighbour.example/r?click_id={click_id}",
        "category": "grocery",
        "tax_ids": ["24680132"],
        "rates": {"grocery": 200, "default": 100},
        "lock_period_days": 7,
    },
    "Formosa Travel": {
        "key": "formosa-travel",
        "tracking_template": "https://formosa-travel.example/r?click_id={click_id}",
        "category": "travel",
        "tax_ids": ["53170422", "80246152"],
        "rates": {"travel": 500, "hotel": 800},
        "lock_period_days": 30,
    },
    "Night Market Eats": {
        "key": "night-market-eats",
        "tracking_template": "https://night-market-eats.example/r?click_id={click_id}",
        "category": "food",
        "tax_ids": ["61503980"],
        "rates": {"food": 300},
        "lock_period_days": 14,
    },
    "Pixel Gadgets": {
        "key": "pixel-gadgets",
        "tracking_template": "https://pixel-gadgets.example/r?click_id={click_id}",
        "category": "electronics",
        "tax_ids": ["42970313"],
        "rates": {"electronics": 150, "accessories": 400},
        "lock_period_days": 45,
    },
}


def _milestones(*steps: tuple[str, str, int, int]) -> list[dict[str, Any]]:
    return [
        {"key": key, "title": title, "reward_amount": reward, "within_days": days, "position": position}
        for position, (key, title, reward, days) in enumerate(steps, start=1)
    ]


GAMES: tuple[dict[str, Any], ...] = (
    {
        "key": "dragon-realm",
        "title": "Dragon Realm",
        "platforms": ["ios", "android"],
        "app_store_id": "1660000001",
        "play_package": "dev.earnloop.demo.dragonrealm",
        "tags": ["rpg"],
        "milestones": _milestones(
            ("lv5", "Reach level 5", 100, 7),
            ("lv10", "Reach level 10", 300, 14),
            ("lv20", "Reach level 20", 600, 30),
        ),
    },
    {
        "key": "tile-tea-party",
        "title": "Tile Tea Party",
        "platforms": ["android"],
        "play_package": "dev.earnloop.demo.tileteaparty",
        "tags": ["puzzle", "casual"],
        "milestones": _milestones(
            ("stage10", "Clear stage 10", 50, 7),
            ("stage50", "Clear stage 50", 200, 30),
            ("stage100", "Clear stage 100", 500, 60),
        ),
    },
    {
        "key": "harbor-tycoon",
        "title": "Harbor Tycoon",
        "platforms": ["ios", "android"],
        "app_store_id": "1660000003",
        "play_package": "dev.earnloop.demo.harbortycoon",
        "tags": ["strategy"],
        "publisher": PUBLISHER,
        "milestones": _milestones(
            ("hq3", "Upgrade the harbour office to 3", 150, 7),
            ("hq6", "Upgrade the harbour office to 6", 400, 21),
            ("hq9", "Upgrade the harbour office to 9", 900, 45),
        ),
    },
    {
        "key": "neon-racer",
        "title": "Neon Racer",
        "platforms": ["ios"],
        "app_store_id": "1660000004",
        "tags": ["racing"],
        "publisher": PUBLISHER,
        "milestones": _milestones(
            ("race5", "Finish 5 races", 80, 7), ("gold", "Reach the gold league", 350, 30)
        ),
    },
    {
        "key": "boba-merge",
        "title": "Boba Merge",
        "platforms": ["ios", "android"],
        "app_store_id": "1660000005",
        "play_package": "dev.earnloop.demo.bobamerge",
        "tags": ["casual"],
        "milestones": _milestones(
            ("merge50", "Merge 50 cups", 60, 7),
            ("shop", "Open the second shop", 150, 14),
            ("star", "Earn a star chef badge", 450, 30),
        ),
    },
)
TWO_X_ZONE = {
    "key": "2x-zone",
    "name": "2x zone",
    "multiplier_bps": 20_000,
    "budget_total": 200_000,
    "budget_mode": "pay_partial",
    "games": ["dragon-realm", "boba-merge"],
    "merchants": ["formosa-travel"],
}
TWO_X_FUNDING = 100_000
