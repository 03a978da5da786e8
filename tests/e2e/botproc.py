"""The real bot as a separate process (`python bot.py`), pointed at doubles on loopback.

Used by the crash-recovery tests (SIGKILL) and by the benchmark (RSS and CPU of the bot alone).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import IO, Any

from tests.doubles.discord_double import DiscordDouble

ROOT = Path(__file__).resolve().parents[2]


class BotProcess:
    """`async with BotProcess(dd, env) as bot:` starts `python bot.py` and waits until it is ready."""

    def __init__(self, dd: DiscordDouble, env: dict[str, Any], *, log_path: Path) -> None:
        self.dd = dd
        self.env = {k: str(v) for k, v in env.items() if v is not None}
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout: float = 30.0) -> BotProcess:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONUNBUFFERED": "1",
            "DISCORD_TOKEN": self.dd.bot_token,
            "DISCORD_API_BASE_URL": self.dd.api_base,
            "DISCORD_GATEWAY_URL": self.dd.gateway_url,
            **self.env,
        }
        self.dd.ready_event.clear()
        self._log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "bot.py"), cwd=self.log_path.parent, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=self._log, stderr=self._log,
        )  # fmt: skip
        waiter = asyncio.create_task(self.dd.wait_until_ready(timeout=timeout))
        exited = asyncio.create_task(self.proc.wait())
        done, _ = await asyncio.wait({waiter, exited}, return_when=asyncio.FIRST_COMPLETED)
        if exited in done:
            waiter.cancel()
            raise RuntimeError(f"bot exited with {self.proc.returncode}: {self.logs()[-2000:]}")
        exited.cancel()
        await waiter
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        elif self.proc is not None:
            await self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def __aenter__(self) -> BotProcess:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.kill()
        await self.stop()
        # As in the in-process suite (tests.e2e.harness): no secret in any line the bot wrote.
        secrets = [s for s in (self.env.get("IMAGE_API_KEY"), self.dd.bot_token) if s]
        leaks = [line[:200] for line in self.logs().splitlines() if any(s in line for s in secrets)]
        assert leaks == [], leaks
