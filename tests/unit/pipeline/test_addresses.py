"""pipeline.addresses and pipeline.fetch against SSRF: the addresses a result URL (and each redirect) may reach.

A gateway on a public address may not send the bot to loopback, link-local or LAN addresses; a
gateway that is itself on one (a local proxy, the test doubles) may. The servers here are on
127.0.0.1; a gateway "on a public address" is a public IP literal (never connected to), or a
name a stand-in resolver answers for.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import traceback
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from pipeline import addresses, fetch
from pipeline.addresses import AddressGuard, AddressRefused, guarded_session, is_public_address
from pipeline.fetch import FetchError, download
from tests.unit.pipeline.test_fetch import png_bytes

PUBLIC_GATEWAY = "https://93.184.215.14/v1"  # a public literal: nothing connects to it
SECRET = "?X-Amz-Signature=SECRETSIG&token=SECRETTOK"
CAP = 256 * 1024


PNG = png_bytes()


class Server:
    """127.0.0.1: an image, an "internal" page, redirects (to ?to=..., or a chain of n hops)."""

    def __init__(self) -> None:
        self.base = ""
        self.port = 0
        self.hits: list[str] = []
        app = web.Application()
        app.router.add_get("/img.png", self.image)
        app.router.add_get("/internal/secret.png", self.internal)
        app.router.add_get("/redirect", self.redirect)
        app.router.add_get("/chain/{n}", self.chain)
        self.runner = web.AppRunner(app, shutdown_timeout=0.5)

    async def image(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        return web.Response(body=PNG, content_type="image/png")

    async def internal(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        return web.Response(body=b"internal admin data", content_type="image/png")

    async def redirect(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        raise web.HTTPFound(request.query["to"])

    async def chain(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        n = int(request.match_info["n"])
        if n == 0:
            return web.Response(body=PNG, content_type="image/png")
        raise web.HTTPFound(f"/chain/{n - 1}")

    def url(self, path: str, *, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    await srv.runner.setup()
    site = web.TCPSite(srv.runner, "127.0.0.1", 0)
    await site.start()
    srv.port = srv.runner.addresses[0][1]
    srv.base = f"http://127.0.0.1:{srv.port}"
    yield srv
    await srv.runner.cleanup()


class StandInResolver(AbstractResolver):
    """Answers for made-up names; any other name is not found."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.names:
            raise OSError(f"{host}: not found")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.names[host]
        ]

    async def close(self) -> None:
        pass


async def refused(coro: object) -> FetchError:
    with pytest.raises(FetchError) as info:
        await coro  # type: ignore[misc]
    err = info.value
    text = "".join(traceback.format_exception(err)) + repr(err) + err.message
    assert "SECRET" not in text, text
    assert err.code == "refused", err
    return err


# --------------------------------------------------------------------------- which addresses


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.8.9.10", "::1", "169.254.169.254", "fe80::1", "fe80::1%eth0", "10.0.0.1",
        "172.16.5.4", "192.168.1.1", "100.64.0.1", "fd00::1", "fc00::5", "::ffff:127.0.0.1",
        "::ffff:169.254.169.254", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "0.0.0.0", "::",
        "224.0.0.1", "ff02::1", "255.255.255.255", "240.0.0.1", "fec0::1", "192.0.2.1", "2001:db8::1",
        "not an address", "2130706433", "127.1", "",
    ],
)  # fmt: skip
def test_addresses_that_are_not_globally_routable_are_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address",
    ["93.184.215.14", "8.8.8.8", "162.159.128.233", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_are_public(address: str) -> None:
    # Discord's CDN (Cloudflare), a public gateway, and a public address behind NAT64 (DNS64).
    assert is_public_address(address)


# --------------------------------------------------------------------------- a public gateway


async def test_a_result_url_on_loopback_or_link_local_is_not_fetched(server: Server) -> None:
    # The gateway is a third party: its result URL may name the bot's own host, the cloud metadata
    # service or a LAN address; fetching it would be a (blind, or if it is an image, a full) SSRF.
    async with guarded_session(PUBLIC_GATEWAY) as session:
        err = await refused(download(session, server.url(f"/internal/secret.png{SECRET}"), max_bytes=CAP, timeout=5))
    assert server.hits == [], "the bot fetched a loopback URL the gateway named"
    assert err.message.startswith(f"refused to fetch {server.url('/internal/secret.png')}:")
    assert "ALLOW_PRIVATE_RESULT_ADDRESSES=true allows it" in err.message  # the operator's way out


async def test_an_operator_inside_the_storages_cloud_network_may_allow_private_addresses(server: Server) -> None:
    # ALLOW_PRIVATE_RESULT_ADDRESSES: a bot whose DNS answers the storage's internal addresses.
    async with guarded_session(PUBLIC_GATEWAY, allow_private=True) as session:
        assert await download(session, server.url("/img.png"), max_bytes=CAP) == PNG


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/a.png",
        "http://192.168.1.1:8080/a.png",
        "http://100.64.0.1/a.png",
        "http://[fd00::1]/a.png",
        "http://[fe80::1]/a.png",
        "http://[::ffff:169.254.169.254]/a.png",
        "http://224.0.0.1/a.png",
        "http://2130706433/a.png",  # 127.0.0.1 written as a number
    ],
)
async def test_non_public_literals_are_refused_before_any_connection(url: str) -> None:
    # Refused, not timed out or failed to connect: no connection was tried.
    async with guarded_session(PUBLIC_GATEWAY) as session:
        await refused(download(session, url + SECRET, max_bytes=CAP, timeout=5))


@pytest.mark.parametrize("host", ["0.0.0.0", "[::ffff:127.0.0.1]", "localhost"])
async def test_this_machine_by_any_name_is_refused(server: Server, host: str) -> None:
    # "localhost" is a name: its resolver drops 127.0.0.1 and ::1, leaving nothing to connect to.
    async with guarded_session(PUBLIC_GATEWAY) as session:
        await refused(download(session, server.url(f"/internal/secret.png{SECRET}", host=host), max_bytes=CAP))
    assert server.hits == []


async def test_a_name_that_resolves_to_the_metadata_service_is_refused() -> None:
    resolver = StandInResolver({"gateway.example": ["93.184.215.14"], "evil.example": ["169.254.169.254"]})
    async with guarded_session("https://gateway.example/v1", resolver=resolver) as session:
        err = await refused(download(session, f"http://evil.example/latest/meta-data{SECRET}", max_bytes=CAP))
    assert "evil.example has no public address" in err.message


async def test_the_resolver_keeps_only_the_public_addresses_of_a_name() -> None:
    names = {"mixed.example": ["127.0.0.1", "93.184.215.14", "10.0.0.7"], "lan.example": ["10.0.0.7"]}
    resolver = addresses._GuardedResolver(StandInResolver(names), AddressGuard())
    assert [r["host"] for r in await resolver.resolve("mixed.example", 443)] == ["93.184.215.14"]
    with pytest.raises(AddressRefused):
        await resolver.resolve("lan.example", 443)


async def test_every_redirect_hop_is_checked(server: Server) -> None:
    # 127.0.0.1 stands for a public CDN here (trusted); where it redirects to is checked hop by hop.
    async with guarded_session(PUBLIC_GATEWAY, trusted_hosts=["127.0.0.1"]) as session:
        assert await download(session, server.url("/redirect?to=/img.png"), max_bytes=CAP) == PNG
        server.hits.clear()
        targets = [
            "http://169.254.169.254/latest/meta-data/",
            f"http://[::ffff:127.0.0.1]:{server.port}/internal/secret.png",
            f"http://localhost:{server.port}/internal/secret.png",
        ]
        for target in targets:
            err = await refused(download(session, server.url(f"/redirect{SECRET}&to={target}"), max_bytes=CAP))
            assert f"(a redirect from {server.url('/redirect')})" in err.message
    assert server.hits == ["/redirect"] * len(targets)


async def test_a_redirect_the_gateway_client_lets_aiohttp_follow_is_checked_too(server: Server) -> None:
    # The gateway's own calls follow redirects in aiohttp; a hop to an IP literal is still checked.
    target = f"http://[::ffff:127.0.0.1]:{server.port}/internal/secret.png"
    async with guarded_session(PUBLIC_GATEWAY, trusted_hosts=["127.0.0.1"]) as session:
        with pytest.raises(AddressRefused):
            async with session.get(server.url(f"/redirect?to={target}")):
                pass
    assert server.hits == ["/redirect"]


# --------------------------------------------------------------------------- a gateway on this machine or the LAN


@pytest.mark.parametrize("gateway_host", ["127.0.0.1", "localhost"])
async def test_a_loopback_gateway_still_gets_loopback_results(server: Server, gateway_host: str) -> None:
    # The normal local setup (a proxy, the test doubles): results on loopback, by any name, redirects too.
    async with guarded_session(server.url("/v1", host=gateway_host)) as session:
        assert await download(session, server.url(f"/img.png{SECRET}"), max_bytes=CAP) == PNG
        assert await download(session, server.url("/img.png", host="localhost"), max_bytes=CAP) == PNG
        to = server.url("/img.png", host="localhost")
        assert await download(session, server.url(f"/redirect?to={to}"), max_bytes=CAP) == PNG


async def test_a_gateway_with_any_private_address_is_not_filtered(server: Server) -> None:
    resolver = StandInResolver({"gateway.lan": ["93.184.215.14", "10.1.2.3"], "localhost": ["127.0.0.1"]})
    async with guarded_session("https://gateway.lan/v1", resolver=resolver) as session:
        assert await download(session, server.url("/img.png", host="localhost"), max_bytes=CAP) == PNG


async def test_a_gateway_that_cannot_be_resolved_at_start_is_not_filtered(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pipeline.addresses")
    async with guarded_session("https://gateway.invalid/v1", resolver=StandInResolver({})) as session:
        assert await download(session, server.url("/img.png"), max_bytes=CAP) == PNG
    assert any(
        r.levelno == logging.DEBUG and "could not be resolved" in r.getMessage() and "gateway.invalid" in r.getMessage()
        for r in caplog.records
    )


async def test_a_slow_resolver_at_start_does_not_hold_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    class Stuck(StandInResolver):
        async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
            await asyncio.sleep(60)
            raise AssertionError("unreachable")

    monkeypatch.setattr(addresses, "GATEWAY_RESOLVE_TIMEOUT", 0.05)
    async with guarded_session("https://gateway.example/v1", resolver=Stuck({})) as session:
        assert isinstance(session, aiohttp.ClientSession)


# --------------------------------------------------------------------------- redirects, followed by hand


async def test_redirects_are_followed_up_to_the_maximum(server: Server) -> None:
    async with aiohttp.ClientSession() as session:
        path = f"/chain/{fetch.MAX_REDIRECTS}"
        assert await download(session, server.url(path), max_bytes=CAP) == PNG
        with pytest.raises(FetchError) as info:
            await download(session, server.url(f"/chain/{fetch.MAX_REDIRECTS + 1}"), max_bytes=CAP)
    assert info.value.code == "http_status"
    assert "too many redirects" in info.value.message
