"""Where webhooks may go: http(s) URLs whose host resolves only to public addresses (SSRF guard).

Checked when a webhook is set (the API answers 422) and again right before each
delivery. A delivery connects to the very address it checked (the URL's host is
kept in the Host header and TLS SNI), so a DNS answer that changes between the
check and the connection (rebinding) cannot steer it inside. Hosts listed in
WEBHOOK_ALLOWED_HOSTS, matched against the host as written in the URL, skip the
check.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

MAX_URL_LENGTH = 2048
"""The longest webhook URL accepted."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookRefused(Exception):
    """The URL is malformed or its host is (or resolves to) a non-public address."""


class TargetUnresolvable(Exception):
    """The host did not resolve (a DNS failure may pass: a delivery retries)."""


@dataclass(frozen=True, kw_only=True)
class Target:
    """What to connect to: the URL to request and, when pinned to an IP, the real host."""

    url: str
    host_header: str | None = None
    sni_hostname: str | None = None


def parse_webhook_url(url: str) -> SplitResult:
    """Split an absolute http(s) URL with a host and no credentials; WebhookRefused otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise WebhookRefused(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise WebhookRefused(f"is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise WebhookRefused("must not carry credentials")
    return parts


def check_webhook_url(url: str, *, allowed_hosts: Collection[str]) -> None:
    """Raise WebhookRefused unless a delivery to this URL would be allowed now."""
    try:
        resolve_target(url, allowed_hosts=allowed_hosts)
    except TargetUnresolvable as exc:
        raise WebhookRefused(str(exc)) from None


def resolve_target(url: str, *, allowed_hosts: Collection[str]) -> Target:
    """Check the URL's host and pin the request to one checked public address."""
    parts = parse_webhook_url(url)
    host = (parts.hostname or "").lower()
    if host in allowed_hosts:
        return Target(url=url)
    addresses = _addresses(host, parts.port or (443 if parts.scheme == "https" else 80))
    for address in addresses:
        if not is_public(address):
            raise WebhookRefused(
                f"{host} is or resolves to {address}, a private, loopback or link-local "
                "address (allow it with WEBHOOK_ALLOWED_HOSTS)"
            )
    address = addresses[0]
    netloc = f"[{address}]" if address.version == 6 else str(address)
    if parts.port:
        netloc += f":{parts.port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return Target(
        url=pinned,
        host_header=parts.netloc,
        sni_hostname=host if parts.scheme == "https" else None,
    )


def is_public(address: IPAddress) -> bool:
    """True for globally routable unicast addresses (not private, loopback, link-local, ...)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:  # an IPv6 form that reaches an IPv4 host: judge that host
            address = embedded
    return address.is_global and not address.is_multicast


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64, 6to4 or Teredo IPv6 address leads to."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetUnresolvable(f"{host} does not resolve: {exc}") from None
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        # Drop an IPv6 scope ("fe80::1%eth0"); the address itself decides.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise TargetUnresolvable(f"{host} has no address")
    return found
