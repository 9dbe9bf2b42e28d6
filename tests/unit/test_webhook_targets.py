"""The webhook target guard's address classes (ADR 0018) and how a delivery is pinned to an address."""

from __future__ import annotations

import ipaddress

import pytest

from earnloop.outbox.errors import InvalidWebhookUrlError
from earnloop.outbox.targets import MemoryResolver, TargetGuard, TargetRefusedError, why_not_public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.31.255.255", "192.168.0.1", "100.64.0.1", "169.254.169.254",
        "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
        "198.18.0.1", "::", "::1", "fc00::1", "fd12::1", "fe80::1", "ff02::1", "::ffff:10.0.0.1",
        "::127.0.0.1", "2002:a9fe:a9fe::", "64:ff9b::7f00:1", "2001:db8::1",
    ],
)  # fmt: skip
def test_internal_addresses_are_not_public(address: str) -> None:
    assert why_not_public(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert why_not_public(ipaddress.ip_address(address)) is None


def test_a_name_with_any_internal_address_is_refused_and_a_public_one_is_pinned() -> None:
    resolver = MemoryResolver()
    resolver.set("mixed.example", "93.184.216.34", "10.0.0.1")
    resolver.set("hooks.example", "2606:4700:4700::1111")
    guard = TargetGuard(allow_private=False, resolver=resolver)
    with pytest.raises(InvalidWebhookUrlError, match="public internet address"):
        guard.check("https://mixed.example/hook")
    with pytest.raises(TargetRefusedError, match="not sent"):
        guard.pin("https://mixed.example/hook")
    with pytest.raises(TargetRefusedError, match="does not resolve"):
        guard.pin("https://unknown.example/hook")
    pinned = guard.pin("https://hooks.example:8443/a?b=1")
    assert pinned.connect_url == "https://[2606:4700:4700::1111]:8443/a?b=1"
    assert (pinned.host_header, pinned.sni_hostname) == ("hooks.example:8443", "hooks.example")
    assert TargetGuard(allow_private=True, resolver=resolver).pin("http://mixed.example/").address == (
        "93.184.216.34"
    )
