"""The benchmark: the real bot (`python bot.py`, its own process) against the doubles on loopback.

    .venv/bin/python -m benchmarks.run            # everything (about a minute and a half on 2 cores)
    .venv/bin/python -m benchmarks.run imagine    # or: ledger, series; jpeg or png (one format)
    .venv/bin/python -m benchmarks.run jpeg --bursts 1

Prints one figure per line. The gateway double runs as its CLI in a third process (fixed
latency, realistic 2K images), so the bot's RSS and CPU (read from /proc) are its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from benchmarks.procstat import cpu_seconds, peak_rss_mb
from tests.doubles.discord_double import DiscordDouble
from tests.e2e.botproc import ROOT, BotProcess

API_KEY = "sk-bench-key"
FLAVOUR = "gogogotoken-com"
GATEWAY_LATENCY = 2.0
MEMBERS = 100
BURSTS = 3


def say(name: str, value: str) -> None:
    print(f"{name}: {value}", flush=True)


@asynccontextmanager
async def gateway_process(*args: str):
    """The image-gateway double's CLI; yields (its base URL (its first stdout line), its pid)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.doubles.image_gateway_double", "--port", "0", "--api-key", API_KEY, *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        if not line:
            raise RuntimeError("the gateway double did not start")
        yield line.decode().strip(), proc.pid
    finally:
        proc.terminate()
        await proc.wait()


@dataclass(frozen=True)
class Burst:
    latencies: list[float]  # sorted, seconds from the burst's start to each member's image
    rss_mb: float
    cpu: dict[str, float]  # seconds each process used during the burst
    delivered: int

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p95(self) -> float:
        return self.latencies[max(0, round(0.95 * len(self.latencies)) - 1)]


async def imagine_bursts(fmt: str, members: int, bursts: int) -> None:
    """`bursts` bursts, each with a fresh bot: the machine is shared and one burst's figures move
    by a tenth of a second from run to run, so each figure is the median burst's, with every
    burst's value beside it (memory: the largest)."""
    runs = [await imagine_burst(fmt, members) for _ in range(bursts)]

    def each(values: Sequence[float], which: str, digits: int) -> str:
        return f" ({which} of {bursts} bursts: {', '.join(f'{v:.{digits}f}' for v in values)})" if bursts > 1 else ""

    def median(values: Sequence[float]) -> str:
        return f"{statistics.median(values):.2f} s{each(values, 'median', 2)}"

    if fmt == "jpeg":
        say(f"imagine x{members} latency p50", median([r.p50 for r in runs]))
        say(f"imagine x{members} latency p95", median([r.p95 for r in runs]))
        say(f"imagine x{members} latency max", median([r.latencies[-1] for r in runs]))
        say("overhead (p50 - gateway latency)", median([r.p50 - GATEWAY_LATENCY for r in runs]))
    rss = [r.rss_mb for r in runs]
    say(f"peak RSS, {members} concurrent {fmt.upper()} results", f"{max(rss):.0f} MB{each(rss, 'largest', 0)}")
    per_image = statistics.median(r.cpu["bot"] / max(r.delivered, 1) for r in runs)
    delivered = ", ".join(str(r.delivered) for r in runs)
    say(f"bot CPU per delivered image ({fmt.upper()})", f"{per_image:.3f} s ({delivered} delivered)")
    # Three processes share the machine's cores during a burst: what each one used (medians).
    used = {name: statistics.median(r.cpu[name] for r in runs) for name in runs[0].cpu}
    say(f"CPU during the {fmt.upper()} burst", ", ".join(f"{name} {seconds:.2f} s" for name, seconds in used.items()))


async def imagine_burst(fmt: str, members: int) -> Burst:
    """`members` members /imagine at the same moment; latency to each one's image, RSS and CPU."""
    gw_args = ("--flavour", FLAVOUR, "--latency", str(GATEWAY_LATENCY), "--realistic", "--format", fmt)
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            gateway_process(*gw_args) as (base_url, gateway_pid),
            DiscordDouble(validate_spec=False) as dd,
        ):
            guild = dd.add_guild("Bench")
            channel = dd.add_channel(guild, "images")
            users = [dd.add_user(f"member{i}") for i in range(members)]
            for user in users:
                dd.add_member(guild, user)
            env = {
                "IMAGE_PROVIDER": FLAVOUR,
                "IMAGE_API_KEY": API_KEY,
                "IMAGE_API_BASE_URL": base_url,
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bot.db'}",
                "LOG_LEVEL": "WARNING",
                "MAX_CONCURRENT_REQUESTS": members,  # all of them at once: the queue is not what is measured
            }
            async with BotProcess(dd, env, log_path=Path(tmp) / "bot.log") as bot:
                pids = {"bot": bot.pid, "Discord double": os.getpid(), "gateway double": gateway_pid}
                cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                started = time.monotonic()
                handles = await asyncio.gather(*(
                    dd.invoke_command("imagine", {"prompt": f"a lighthouse, take {i}"},
                                      user=u, guild=guild, channel=channel)
                    for i, u in enumerate(users)
                ))  # fmt: skip
                events = await asyncio.gather(*(
                    h.wait_for(lambda e: bool((e.message or {}).get("attachments")), timeout=300) for h in handles
                ))  # fmt: skip
                latencies = sorted(e.at - started for e in events)
                await asyncio.gather(*(h.wait_for_final(timeout=120) for h in handles))
                cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
                rss = peak_rss_mb(bot.pid)
                delivered = sum(len(h.files()) for h in handles)
    return Burst(latencies, rss, cpu, delivered)


async def ledger_throughput(writers: int = 50, pairs: int = 100) -> None:
    """reserve+settle pairs/s with `writers` concurrent writers under tight limits, then the proof."""
    from storage import Limits, QuotaExceeded, RequestRecord, open_storage  # noqa: PLC0415 - only this part needs it

    price = 135_000
    limits = Limits(daily_images=60, monthly_micros=5_000_000, guild_monthly_micros=300_000_000)
    refused = 0
    with tempfile.TemporaryDirectory() as tmp:
        async with open_storage(f"sqlite:///{Path(tmp) / 'bench.db'}") as storage:
            ledger = storage.ledger
            rng = random.Random(6)

            async def writer(n: int) -> None:
                nonlocal refused
                for i in range(pairs):
                    images = rng.randint(1, 4)
                    try:
                        request = RequestRecord(
                            guild_id=1 + n % 3, channel_id=10, user_id=100 + n % 25, command="imagine",
                            model="seedream", size="2K", prompt=f"p{n}.{i}", images=images,
                            unit_price_micros=price,
                        )  # fmt: skip
                        rid = await ledger.reserve(request, limits=limits)
                    except QuotaExceeded:
                        refused += 1
                        continue
                    billed = rng.randint(0, images)
                    await ledger.settle(rid, billed=billed, delivered=rng.randint(0, billed))

            started = time.perf_counter()
            await asyncio.gather(*(writer(n) for n in range(writers)))
            elapsed = time.perf_counter() - started
            member = await storage.db.fetchall(
                "SELECT guild_id, user_id, SUM(images_delivered), SUM(charged_micros) FROM requests"
                " WHERE status = 'settled' GROUP BY 1, 2"
            )
            guild = await storage.db.fetchall(
                "SELECT guild_id, SUM(cost_micros) FROM requests WHERE status = 'settled' GROUP BY 1"
            )
            pending = await storage.db.fetchall("SELECT COUNT(*) FROM requests WHERE status = 'pending'")
            mismatches = 0
            for g, u, images, charged in member:
                usage = await ledger.usage(g, u)
                mismatches += (usage.images_today, usage.member_month_micros) != (images, charged)
    total = writers * pairs
    most_images = max(r[2] for r in member)
    most_member = max(r[3] for r in member)
    most_guild = max(r[1] for r in guild)
    ok = (
        most_images <= limits.daily_images
        and most_member <= limits.monthly_micros
        and most_guild <= limits.guild_monthly_micros
        and pending[0][0] == 0
        and mismatches == 0
    )
    say(f"ledger reserve+settle, {writers} writers", f"{total / elapsed:,.0f} pairs/s ({refused} of {total} refused)")
    say(
        "ledger limits held",
        f"{'yes' if ok else 'NO'} (max member images {most_images}/{limits.daily_images}, "
        f"max member ${most_member / 1e6:.2f}/${limits.monthly_micros / 1e6:.2f}, "
        f"max server ${most_guild / 1e6:.2f}/${limits.guild_monthly_micros / 1e6:.2f}, "
        f"usage() = SUM(rows): {'yes' if mismatches == 0 else 'NO'})",
    )


class _TimingSink:
    upload_limit = 10 * 1024 * 1024

    def __init__(self, started: float) -> None:
        self.started = started
        self.times: list[float] = []

    async def post(self, images: Sequence[object]) -> None:
        self.times.extend([time.monotonic() - self.started] * len(images))

    async def finish(self, outcome: object) -> None:
        return None


async def series_timing(count: int = 15, per_image: float = 1.0) -> None:
    """First and last image of a series, streamed and not, through the pipeline (no Discord)."""
    from bot import make_client, pipeline_options, resolve_preset  # noqa: PLC0415
    from pipeline.job import ImageJob  # noqa: PLC0415
    from pipeline.runner import Pipeline  # noqa: PLC0415
    from settings import Settings  # noqa: PLC0415
    from storage import Limits, open_storage  # noqa: PLC0415

    args = ("--flavour", "aiearth", "--latency", str(per_image), "--per-image-latency", str(per_image),
            "--realistic", "--format", "jpeg")  # fmt: skip
    async with gateway_process(*args) as (base_url, _pid), aiohttp.ClientSession() as http:
        for stream in (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                settings = Settings(
                    _env_file=None, discord_token="unused", image_provider="aiearth", image_api_key=API_KEY,  # noqa: S106
                    image_api_base_url=base_url, image_stream=stream,
                    database_url=f"sqlite:///{Path(tmp) / 'bot.db'}",
                )  # type: ignore[call-arg]  # fmt: skip
                preset = resolve_preset(settings)
                async with open_storage(settings.database_url) as storage:
                    pipeline = Pipeline(
                        client=make_client(settings, preset, http), ledger=storage.ledger, http=http,
                        limits=_no_limits(Limits), options=pipeline_options(settings),
                    )  # fmt: skip
                    job = ImageJob(command="series", guild_id=1, channel_id=2, user_id=3, locale="en-US",
                                   prompt="a comic strip, 15 panels", model=preset.model(preset.default_model),
                                   count=count, series=True)  # fmt: skip
                    sink = _TimingSink(time.monotonic())
                    await pipeline.run(job, sink)  # type: ignore[arg-type]
            mode = "streaming" if stream else "not streaming"
            say(f"series of {count} at {per_image:g} s/image, {mode}, first image", f"{sink.times[0]:.2f} s")
            say(f"series of {count} at {per_image:g} s/image, {mode}, last image", f"{sink.times[-1]:.2f} s")


def _no_limits(limits_type):
    async def limits(job: object):
        return limits_type(None, None, None)

    return limits


async def main(parts: Sequence[str], members: int, bursts: int) -> None:
    # Anything else running on the machine shows in every figure: say how busy it was.
    say("load average at start (1 min)", f"{os.getloadavg()[0]:.2f}")
    # The double runs in this process; checking every body against the OpenAPI spec (jsonschema)
    # is its cost, not the bot's, and real Discord does not do it on our time.
    say("Discord double", "request bodies not validated against the OpenAPI spec (validate_spec=False)")
    for fmt in ("jpeg", "png"):  # "imagine" is both bursts; "jpeg" or "png" one of them
        if "imagine" in parts or fmt in parts:
            await imagine_bursts(fmt, members, bursts)
    if "ledger" in parts:
        await ledger_throughput()
    if "series" in parts:
        await series_timing()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("parts", nargs="*", default=["imagine", "ledger", "series"])
    parser.add_argument("--members", type=int, default=MEMBERS)
    parser.add_argument("--bursts", type=int, default=BURSTS, help="bursts of each format; figures are medians")
    options = parser.parse_args()
    asyncio.run(main(options.parts, options.members, max(options.bursts, 1)))
