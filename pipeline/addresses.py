"""Which addresses the bot's HTTP session may reach (SSRF).

The gateway names the result URLs, and may name this machine, the cloud
metadata service (169.254.169.254) or the LAN. :func:`guarded_session` makes the one HTTP session
the bot uses; when the image gateway's own host resolves (once, at start) to globally routable
addresses only, that session reaches no other kind (loopback, link-local, private, CGNAT,
unique-local, multicast, unspecified, reserved, and IPv4-mapped, NAT64 and 6to4 forms of them):
hostnames are filtered by its resolver at connection time, IP literals before each request (a
trace hook; aiohttp does not ask the resolver about them), and :func:`pipeline.fetch.download_to` follows
redirects itself, so every hop meets both checks. A gateway that is itself on such an address (a
local proxy, a test double) may name them; so may the hosts the operator configured
(``trusted_hosts``, e.g. a Discord stand-in). A refusal is ``FetchError("refused")``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator, Iterable
from types import SimpleNamespace

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

__all__ = ["AddressGuard", "AddressRefused", "guarded_session", "is_public_address"]

log = logging.getLogger(__name__)

_ALLOW_HINT = " (ALLOW_PRIVATE_RESULT_ADDRESSES=true allows it)"
GATEWAY_RESOLVE_TIMEOUT = 5.0  # seconds for the one look-up of the gateway's host at start (it delays the start)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # DNS64 answers: an IPv4 address inside


def is_public_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for a globally routable unicast address. An IPv4 address inside an IPv6 one (mapped,
    NAT64, 6to4) is judged as itself; anything that does not parse is not public."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif ip.is_site_local:
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def _looks_like_ip(host: str) -> bool:
    """aiohttp's own test: such a host is connected to as it is, never given to the resolver."""
    return ":" in host or host.replace(".", "").isdigit()


def _host_key(host: str) -> str:
    return host.lower().rstrip(".")


class AddressRefused(aiohttp.ClientOSError):
    """A connection the session may not make (see :class:`AddressGuard`). An OSError, so that
    aiohttp's connector wraps it (``ClientConnectorDNSError``) when the resolver raises it."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(errno.EACCES, f"{host} {reason}")
        self.host = host
        self.reason = reason


class AddressGuard:
    """What a session may reach when the gateway is on public addresses: public addresses, and
    any address of ``trusted_hosts`` (hosts the operator configured, by name or literal)."""

    def __init__(self, trusted_hosts: Iterable[str] = ()) -> None:
        self.trusted_hosts = frozenset(_host_key(host) for host in trusted_hosts if host)

    def trusts(self, host: str) -> bool:
        return _host_key(host) in self.trusted_hosts

    def check_url(self, url: yarl.URL) -> None:
        """Raise AddressRefused for a URL whose host is an IP literal that is not public (names
        are the resolver's to judge, when they are looked up)."""
        host = url.host
        if host and _looks_like_ip(host) and not self.trusts(host) and not is_public_address(host):
            raise AddressRefused(host, f"is not a public address{_ALLOW_HINT}")

    def trace_config(self) -> aiohttp.TraceConfig:
        """Checks every request's URL before it connects, and every redirect aiohttp follows
        (the gateway client's; downloads follow theirs themselves, one request per hop)."""

        async def on_start(_s: object, _ctx: SimpleNamespace, params: aiohttp.TraceRequestStartParams) -> None:
            self.check_url(params.url)

        async def on_redirect(_s: object, _ctx: SimpleNamespace, params: aiohttp.TraceRequestRedirectParams) -> None:
            location = params.response.headers.get("Location")
            with contextlib.suppress(ValueError):  # not a URL: aiohttp refuses it itself
                target = params.url.join(yarl.URL(location)) if location else None
                if target is not None:
                    self.check_url(target)

        config = aiohttp.TraceConfig()
        config.on_request_start.append(on_start)
        config.on_request_redirect.append(on_redirect)
        return config


class _GuardedResolver(AbstractResolver):
    """``inner``'s answers less the addresses the guard refuses; none left: AddressRefused."""

    def __init__(self, inner: AbstractResolver, guard: AddressGuard) -> None:
        self._inner = inner
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        infos = await self._inner.resolve(host, port, family)
        if self._guard.trusts(host):
            return infos
        allowed = [info for info in infos if is_public_address(info["host"])]
        if not allowed:
            raise AddressRefused(host, f"has no public address{_ALLOW_HINT}")
        if len(allowed) < len(infos):
            log.debug("%s: skipping its addresses that are not public", host)
        return allowed

    async def close(self) -> None:
        """The inner resolver is closed by :func:`guarded_session`, which made it."""


async def _gateway_is_public(gateway_url: str, resolver: AbstractResolver) -> bool:
    """Whether every address of the gateway's host is public (looked up once: at start)."""
    try:
        parsed = yarl.URL(gateway_url)
        host, port = parsed.host, parsed.port or 0
    except (TypeError, ValueError):
        host, port = None, 0
    if not host:
        log.debug("the image gateway URL has no host: result addresses are not filtered")
        return False
    if _looks_like_ip(host):
        public = is_public_address(host)
    else:
        try:
            async with asyncio.timeout(GATEWAY_RESOLVE_TIMEOUT):
                infos = await resolver.resolve(host, port, socket.AF_UNSPEC)
        except (OSError, TimeoutError) as error:
            log.debug(
                "the image gateway's host %s could not be resolved at start (%s): result addresses are not filtered",
                host, error or type(error).__name__,
            )  # fmt: skip
            return False
        public = bool(infos) and all(is_public_address(info["host"]) for info in infos)
    if public:
        log.debug("the image gateway %s is on public addresses: results must be too", host)
    else:
        log.debug("the image gateway %s is not on a public address: result addresses are not filtered", host)
    return public


@contextlib.asynccontextmanager
async def guarded_session(
    gateway_url: str,
    *,
    trusted_hosts: Iterable[str] = (),
    resolver: AbstractResolver | None = None,
    allow_private: bool = False,
) -> AsyncIterator[aiohttp.ClientSession]:
    """The bot's HTTP session (gateway calls and downloads), closed on exit. When the host of
    ``gateway_url`` resolves (here, once) to public addresses only, the session reaches only
    public addresses and ``trusted_hosts``; otherwise (a gateway on loopback or the LAN, or one
    that cannot be resolved now) it reaches anything. ``allow_private`` (the operator's
    ALLOW_PRIVATE_RESULT_ADDRESSES: a bot inside the cloud network of its gateway's storage, whose
    DNS answers private addresses) turns the check off. ``resolver``: aiohttp's default if None."""
    inner = resolver if resolver is not None else DefaultResolver()
    try:
        if not allow_private and await _gateway_is_public(gateway_url, inner):
            guard = AddressGuard(trusted_hosts)
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=_GuardedResolver(inner, guard)),
                trace_configs=[guard.trace_config()],
            )
        else:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=inner))
        async with session:
            yield session
    finally:
        if resolver is None:
            await inner.close()
