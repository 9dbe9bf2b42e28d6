"""Where webhooks may be sent (ADR 0018): only to public internet addresses, checked at registration
and again at every delivery on the addresses the name resolves to *then*, and the delivery connects
to an address that was checked (the sender is handed a :class:`PinnedTarget`, never a name to resolve).

Not public: loopback, private (10/8, 172.16/12, 192.168/16), shared/CGNAT (100.64/10), link-local (incl.
169.254.169.254), 0.0.0.0/8, multicast, reserved, documentation and benchmarking ranges, unique-local
fc00::/7, fe80::/10, ::1, and IPv4 addresses embedded in IPv6 (IPv4-mapped, IPv4-compatible, 6to4,
NAT64 64:ff9b::/96, Teredo) whose IPv4 address is any of those. ``ipaddress``'s ``is_global`` decides,
plus the flags it does not cover. ``EARNLOOP_WEBHOOK_ALLOW_PRIVATE_TARGETS`` (development, tests) lifts
the check.

Names are resolved through a :class:`Resolver`: :class:`SystemResolver` (``socket.getaddrinfo``) or
:class:`MemoryResolver`, a working in-memory table (tests make a name change its address with it).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import SplitResult, urlsplit, urlunsplit

from earnloop.config import Settings
from earnloop.outbox.errors import InvalidWebhookUrlError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ADDRESSES_MAX = 32  # a name resolving to more addresses is refused (every one must be checked)
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
IPV4_COMPATIBLE_MAX = 1 << 32  # ::a.b.c.d (deprecated IPv4-compatible form)
URL_MAX_LEN = 2048
LOOPBACK = ipaddress.IPv4Address("127.0.0.1")


class UnresolvableHostError(Exception):
    """The name has no address (now)."""


class TargetRefusedError(Exception):
    """A delivery target that must not be contacted; the message is safe to show the partner."""


class Resolver(Protocol):
    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address ``host`` resolves to; :class:`UnresolvableHostError` when none."""
        ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``: hosts file, DNS)."""

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise UnresolvableHostError(f"{host} does not resolve") from exc
        addresses: list[IPAddress] = []
        for *_, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        return addresses


@dataclass
class MemoryResolver:
    """A resolver over an in-memory table (tests, development): ``set(name, *addresses)``."""

    table: dict[str, list[IPAddress]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, host: str, *addresses: str) -> None:
        with self.lock:
            self.table[host.lower()] = [ipaddress.ip_address(a) for a in addresses]

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        with self.lock:
            found = list(self.table.get(host.lower().rstrip("."), []))
        if not found:
            raise UnresolvableHostError(f"{host} does not resolve")
        return found


def validate_url(url: str) -> str:
    """Only absolute http(s) URLs with a host, without credentials, whitespace or fragment."""
    if not 0 < len(url) <= URL_MAX_LEN:
        raise InvalidWebhookUrlError(f"url: 1–{URL_MAX_LEN} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise InvalidWebhookUrlError("url must not contain whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a bad port
    except ValueError as exc:
        raise InvalidWebhookUrlError(f"url is malformed: {exc}") from exc
    if parts.scheme not in {"http", "https"}:
        raise InvalidWebhookUrlError("url must start with http:// or https://")
    if not parts.hostname:
        raise InvalidWebhookUrlError("url must name a host")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidWebhookUrlError("url must not contain credentials (user:password@)")
    if parts.fragment:
        raise InvalidWebhookUrlError("url must not contain a fragment")
    if port == 0:
        raise InvalidWebhookUrlError("url port must be 1–65535")
    return url


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64 or 1 < int(address) < IPV4_COMPATIBLE_MAX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def why_not_public(address: IPAddress) -> str | None:
    """``None`` for a public address; else what it is (``"loopback"``, ``"private"``, …)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None and (reason := why_not_public(inner)) is not None:
            return f"{reason} (IPv4 inside IPv6)"
    for reason, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if flag:
            return reason
    if not address.is_global:
        return "not globally reachable"
    return None


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    """A webhook URL that passed :meth:`TargetGuard.check` (the only way to make one)."""

    url: str


@dataclass(frozen=True, slots=True)
class PinnedTarget:
    """Where one delivery goes: ``connect_url`` names the checked address; ``host_header`` and
    ``sni_hostname`` carry the registered name (certificates are verified against it)."""

    url: str
    connect_url: str
    host_header: str
    sni_hostname: str | None
    address: str


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True)
class TargetGuard:
    """The webhook target policy: public addresses only, unless ``allow_private``."""

    allow_private: bool
    resolver: Resolver = field(default_factory=SystemResolver)

    @classmethod
    def from_settings(cls, settings: Settings, resolver: Resolver | None = None) -> TargetGuard:
        return cls(settings.webhook_allow_private_targets, resolver or SystemResolver())

    def _addresses(self, parts: SplitResult) -> list[IPAddress]:
        host = (parts.hostname or "").rstrip(".")
        literal = _literal(host)
        if literal is None and (host == "localhost" or host.endswith(".localhost")):
            literal = LOOPBACK  # RFC 6761: loopback whatever a resolver says
        addresses = [literal] if literal is not None else self.resolver.resolve(host, _port(parts))
        if len(addresses) > ADDRESSES_MAX:
            raise TargetRefusedError(f"{host} resolves to more than {ADDRESSES_MAX} addresses")
        return addresses

    def _refusal(self, host: str, addresses: list[IPAddress]) -> str | None:
        if self.allow_private:
            return None
        for address in addresses:
            reason = why_not_public(address)
            if reason is not None:
                shown = host if _literal(host) is not None else f"{host} resolves to an address that"
                return f"webhook URLs must reach a public internet address: {shown} is {reason}"
        return None

    def check(self, url: str) -> CheckedUrl:
        """Registration: a well-formed http(s) URL whose host is (or resolves only to) public addresses.
        A name that does not resolve yet is accepted: every delivery checks it again."""
        parts = urlsplit(validate_url(url))
        try:
            addresses = self._addresses(parts)
        except UnresolvableHostError:
            return CheckedUrl(url)
        except TargetRefusedError as exc:
            raise InvalidWebhookUrlError(str(exc)) from exc
        refusal = self._refusal(parts.hostname or "", addresses)
        if refusal is not None:
            raise InvalidWebhookUrlError(refusal)
        return CheckedUrl(url)

    def pin(self, url: str) -> PinnedTarget:
        """Delivery: resolve now, check every address, and pin the first; :class:`TargetRefusedError`
        when the host does not resolve or any address is not public."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            addresses = self._addresses(parts)
        except UnresolvableHostError as exc:
            raise TargetRefusedError(f"not sent: {exc}") from exc
        refusal = self._refusal(host, addresses)
        if refusal is not None:
            raise TargetRefusedError(f"not sent: {refusal}")
        address = addresses[0]
        shown = f"[{address}]" if address.version == 6 else str(address)
        netloc = f"{shown}:{parts.port}" if parts.port else shown
        return PinnedTarget(
            url=url,
            connect_url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
            host_header=parts.netloc,
            sni_hostname=host if parts.scheme == "https" and _literal(host) is None else None,
            address=str(address),
        )
