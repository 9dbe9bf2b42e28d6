"""Entity keys and attributes the earn paths derive from what they recorded: the network of an IP
address (``ip24``), and whether a user agent is an emulator's or a headless browser's (issue 15)."""

from __future__ import annotations

import ipaddress

from earnloop.risk.events import AttrValue, EntityKey

# Substrings of the user agents of Android emulators, emulator farms and headless browsers.
EMULATOR_MARKS = (
    "sdk_gphone",
    "android sdk built for",
    "google_sdk",
    "generic_x86",
    "vbox86",
    "genymotion",
    "emulator",
    "headlesschrome",
    "bluestacks",
    "noxplayer",
)


def network_of(ip: str) -> str | None:
    """The IPv4 /24 (``203.0.113.0/24``) or IPv6 /64 an address belongs to; ``None`` if not an address."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def is_emulator(user_agent: str) -> bool:
    agent = user_agent.lower()
    return any(mark in agent for mark in EMULATOR_MARKS)


def click_attrs(click_created_at_ns: int, user_agent: str, now_ns: int) -> dict[str, AttrValue]:
    """The attributes an event earned through a recorded click carries: the time since the click and
    what the click's user agent says."""
    return {
        "click_to_event_s": max(0, (now_ns - click_created_at_ns) // 10**9),
        "has_click_time": True,
        "emulator": is_emulator(user_agent),
        "user_agent": user_agent[:200],
    }


def address_keys(ip: str) -> dict[EntityKey, str]:
    """The ``ip`` and ``ip24`` entity keys of a client address (none when it is not an address)."""
    network = network_of(ip)
    return {} if network is None else {"ip": ip.strip(), "ip24": network}
