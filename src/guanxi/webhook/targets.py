"""Where a webhook may post: not to this server nor to the networks only it can reach (SSRF).

A workspace member names the URL; the server makes the request. Unchecked, that request could
reach what only the server can: services on its loopback, the cloud's metadata service
(169.254.169.254), databases and consoles on the private network. So:

- when an endpoint is created or its URL changed, ``check_url`` refuses (422
  ``webhook_url_not_allowed``) a URL carrying a user name or password, and one whose host is,
  or resolves to, an address that is not public: loopback, private, link-local, shared (CGNAT),
  multicast, reserved, unspecified, and those same addresses written as IPv4-mapped or NAT64
  IPv6. A name that does not resolve yet is accepted: delivery checks again;
- every delivery looks the host up again (``resolve``) and is sent to the address it checked,
  never after a second lookup, so a name that pointed somewhere public when it was registered
  and points at 127.0.0.1 now (DNS rebinding) gets nothing; when any of its addresses is not
  allowed nothing is sent and the attempt fails, saying why;
- redirects are never followed (``dispatch``), so a receiver cannot bounce the request inward.

``Settings.webhook_allowed_networks`` lists networks an operator lets webhooks reach anyway: a
receiver on the company network, or 127.0.0.0/8 for development, demos and tests.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

import httpx

from guanxi.errors import GuanxiError
from guanxi.i18n import N_, Message

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

NAT64 = ip_network("64:ff9b::/96")
KINDS = {
    "unspecified": N_("an unspecified address"),
    "loopback": N_("a loopback address, this server itself"),
    "link-local": N_("a link-local address, such as a cloud metadata service"),
    "multicast": N_("a multicast address"),
    "private": N_("an address on a private network"),
    "reserved": N_("a reserved address"),
    "not public": N_("an address that is not on the public internet"),
}


class UrlNotAllowed(GuanxiError):
    status = 422
    code = "webhook_url_not_allowed"
    message = N_("Webhooks cannot be sent to {host}: {address} is {kind}.")


CREDENTIALS = N_(
    "A webhook URL cannot hold a user name or password: receivers check its signature."
)


@dataclass(frozen=True)
class Refusal:
    """Why a host may not be posted to: one of its addresses and what kind that is."""

    host: str
    address: Address
    kind: str

    def __str__(self) -> str:
        address = str(self.address)
        named = address if self.host == address else f"{self.host} ({address})"
        return f"{named}: {self.kind} address, which webhooks may not reach"

    def error(self) -> UrlNotAllowed:
        details = {"host": self.host, "address": str(self.address), "kind": self.kind}
        return UrlNotAllowed(
            host=self.host,
            address=str(self.address),
            kind=Message(KINDS[self.kind]),
            details=details,
        )


def _embedded(address: Address) -> Address:
    """The IPv4 address an IPv4-mapped (``::ffff:a.b.c.d``) or NAT64 (``64:ff9b::a.b.c.d``)
    IPv6 address stands for; any other address itself."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in NAT64:
            return IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def kind_of(address: Address) -> str | None:
    """What kind of address webhooks may not reach this is (a key of ``KINDS``); None for a
    public one."""
    address = _embedded(address)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_private or (isinstance(address, IPv6Address) and address.is_site_local):
        return "private"
    if address.is_reserved:
        return "reserved"
    return None if address.is_global else "not public"


def refusal(host: str, addresses: Iterable[Address], allowed: Sequence[Network]) -> Refusal | None:
    """The first of ``host``'s addresses webhooks may not reach, unless it is in an
    ``allowed`` network; None when they may reach them all."""
    for address in addresses:
        kind = kind_of(address)
        if kind is not None and not any(_embedded(address) in net for net in allowed):
            return Refusal(host, address, kind)
    return None


def _addresses(infos: Iterable[tuple[Any, ...]]) -> list[Address]:
    found: list[Address] = []
    for *_, sockaddr in infos:
        address = ip_address(str(sockaddr[0]).partition("%")[0])  # without an IPv6 scope
        if address not in found:
            found.append(address)
    return found


def host_port(url: httpx.URL) -> tuple[str, int]:
    """The host as it is looked up (a Chinese domain name in its ASCII form) and the port."""
    return url.raw_host.decode("ascii"), url.port or (443 if url.scheme == "https" else 80)


def check_url(url: str, allowed: Sequence[Network]) -> None:
    """Refuse (``UrlNotAllowed``) a URL with credentials, or whose host is or resolves to an
    address webhooks may not reach. It looks the host up, blocking: call it where a moment's
    wait is fine, as when a member saves an endpoint."""
    parsed = httpx.URL(url)
    if parsed.userinfo:
        raise UrlNotAllowed(CREDENTIALS)
    host, port = host_port(parsed)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return  # not resolvable yet: every delivery looks it up again
    found = refusal(host, _addresses(infos), allowed)
    if found is not None:
        raise found.error()


class Refused(Exception):
    """Nothing was sent: the host is, or resolves to, an address webhooks may not reach."""


@dataclass(frozen=True)
class Pinned:
    """Where one request goes: the URL with its host replaced by the address checked, and
    what keeps the name: the ``Host`` header and, over TLS, the name sent as SNI and the
    certificate is checked against."""

    host: str
    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, Any]


async def pin(url: str, allowed: Sequence[Network]) -> Pinned:
    """Look ``url``'s host up and pin the request to its first address, when webhooks may
    reach every one of them (``Refused`` when not); ``socket.gaierror`` when it does not
    resolve."""
    parsed = httpx.URL(url)
    host, port = host_port(parsed)
    loop = asyncio.get_running_loop()
    found = _addresses(await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    refused = refusal(host, found, allowed)
    if refused is not None:
        raise Refused(str(refused))
    return Pinned(
        host,
        parsed.copy_with(host=str(found[0])),
        {"Host": parsed.netloc.decode("ascii")},
        {"sni_hostname": host} if parsed.scheme == "https" else {},
    )
