"""Where a result image waits between the gateway and Discord: memory within a budget, else disk.

A 2K JPEG (1-2 MB) kept in memory costs no disk write on the event loop, no temporary file to
unlink, and it is uploaded straight from memory in one write (`_HeldBytesPayload`) instead of
read from a file 64 KiB at a time through the thread pool. But a hundred results in flight must
not all sit in memory: one `MemoryBudget` per process caps the bytes held that way, and any
single result larger than its per-item cap (a 2K PNG is 6-12 MB) goes to a temporary file from
the start.
"""

from __future__ import annotations

import io
import tempfile
import threading
from typing import IO, Any

from aiohttp import payload

MB = 1024 * 1024


class MemoryBudget:
    """Bytes that results may hold in memory, all requests together. Never blocks: a result the
    budget cannot take goes to disk instead of waiting. Thread-safe (a result re-encoded in a
    worker thread is spooled there)."""

    def __init__(self, total: int, *, per_item: int = 4 * MB) -> None:
        if total < 0 or per_item < 0:
            raise ValueError("a memory budget cannot be negative")
        self.total = total
        self.per_item = per_item
        self.used = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        with self._lock:
            if self.used + size > self.total:
                return False
            self.used += size
            return True

    def give(self, size: int) -> None:
        with self._lock:
            self.used -= size


class _HeldBytes(io.BytesIO):
    """An in-memory result that gives its share of the budget back when closed. Made from one
    ``bytes`` object, which ``io.BytesIO`` shares rather than copies."""

    def __init__(self, data: bytes, budget: MemoryBudget, held: int) -> None:
        super().__init__(data)
        self._budget = budget
        self._held = held

    def close(self) -> None:
        if not self.closed:
            self._budget.give(self._held)
            self._held = 0
        super().close()


class _HeldBytesPayload(payload.BytesIOPayload):
    """How aiohttp uploads a `_HeldBytes`: the whole image in one write, where aiohttp's
    ``BytesIOPayload`` writes 64 KiB at a time with a trip through the event loop for each
    (24 trips for a 1.5 MB JPEG, times a hundred uploads at once). The transport sends what
    the socket takes and keeps the rest; reading a whole unshared ``BytesIO`` copies nothing.
    Every write starts where the file stood when the payload was made (a retry sends it all)."""

    def __init__(self, value: _HeldBytes, *args: Any, **kwargs: Any) -> None:
        super().__init__(value, *args, **kwargs)
        self._held = value
        self._offset = value.tell()

    async def write(self, writer: Any) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: Any, content_length: int | None) -> None:
        self._held.seek(self._offset)
        await writer.write(self._held.read(-1 if content_length is None else content_length))


payload.PAYLOAD_REGISTRY.register(_HeldBytesPayload, _HeldBytes, order=payload.Order.try_first)


class Spool:
    """A write-only byte sink for one result: the chunks as received while `budget` takes each
    write (no copy), moved to a temporary file at the first write it refuses (or at once when
    `expect` announces more than the per-item cap). `held` shows the bytes kept in memory and
    `finish` hands over the rewound file, joining the chunks once between them (a copy: about
    0.1 ms per MB); closing that file frees the memory or deletes the temporary file. `close`
    discards an unfinished spool."""

    def __init__(self, budget: MemoryBudget) -> None:
        self._budget = budget
        self._chunks: list[bytes] | None = []
        self._held = 0
        self._file: IO[bytes] | None = None

    @classmethod
    def of(cls, data: bytes, budget: MemoryBudget) -> Spool:
        """`data` (in memory and not copied if the budget takes it)."""
        spool = cls(budget)
        try:
            spool.expect(len(data))
            spool.write(data)
        except BaseException:
            spool.close()
            raise
        return spool

    def expect(self, size: int) -> None:
        """The announced size (a Content-Length): beyond the per-item cap, or more than the budget
        has free now, go to disk at once, rather than hold part of it in memory and then write
        that part out on the event loop when the budget refuses a later chunk."""
        budget = self._budget
        if self._chunks is not None and (
            self._held + size > budget.per_item or budget.used + size - self._held > budget.total
        ):
            self._to_disk()

    def write(self, data: bytes) -> int:
        if self._chunks is not None:
            size = len(data)
            if self._held + size <= self._budget.per_item and self._budget.take(size):
                self._held += size
                self._chunks.append(bytes(data))  # a bytes chunk is kept as it is, not copied
                return size
            self._to_disk()
        assert self._file is not None
        return self._file.write(data)

    def held(self) -> bytes | None:
        """The bytes so far when they are held in memory (joined once, here: `finish` then copies
        nothing more); None when they went to disk."""
        if self._chunks is None:
            return None
        if len(self._chunks) != 1:
            self._chunks = [b"".join(self._chunks)]
        return self._chunks[0]

    def finish(self) -> IO[bytes]:
        target: IO[bytes]
        if self._chunks is not None:
            target = _HeldBytes(b"".join(self._chunks), self._budget, self._held)
            self._chunks, self._held = None, 0
        else:
            assert self._file is not None
            target, self._file = self._file, None
        target.seek(0)
        return target

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._release_chunks()

    __del__ = close  # a spool dropped unfinished (a cancelled download) gives its memory back

    def _release_chunks(self) -> None:
        self._chunks = None
        self._budget.give(self._held)
        self._held = 0

    def _to_disk(self) -> None:
        chunks = self._chunks or []
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by `close` or the caller of `finish`
        self._file.writelines(chunks)
        self._release_chunks()


