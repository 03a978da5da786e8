"""Fixtures: a fake gateway on loopback (aiohttp TestServer), a session and a client factory."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from image_gateway.client import ImageClient
from image_gateway.presets import get_preset
from tests.unit.image_gateway.fakes import API_KEY, FakeGateway, Sleeps


@pytest.fixture
async def gateway():
    gw = FakeGateway()
    app = web.Application()
    app.router.add_post("/v1/images/generations", gw.generations)
    app.router.add_get("/v1/models", gw.models)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    gw.base_url = str(server.make_url("/v1"))
    yield gw
    await server.close()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(session, gateway, sleeps):
    def make(preset: str = "aiearth", **kwargs: Any) -> ImageClient:
        kwargs.setdefault("sleep", sleeps)
        return ImageClient(session, get_preset(preset), base_url=gateway.base_url, api_key=API_KEY, **kwargs)

    return make
