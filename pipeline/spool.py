"""Where a result image waits between the gateway and Discord: memory within a budget, else disk.

A 2K JPEG (1-2 MB) kept in memory costs no disk write on the event loop, no temporary file to
unlink, and it is uploaded straight from memory (`HeldImage`: the pieces it was downloaded in,
never joined) instead of read from a file 64 KiB at a time through the thread pool. But a
hundred results in flight must not all sit in memory: one `MemoryBudget` per process caps the
bytes held that way, and any single result larger than its per-item cap (a 2K PNG is 6-12 MB)
goes to a temporary file from the start.
"""

from __future__ import annotations

import bisect
import io
import itertools
import tempfile
import threading
from collections.abc import Iterator
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


class HeldImage(io.BufferedIOBase):
    """An in-memory result as a read-only, seekable file over the pieces it was downloaded in.

    Joining the pieces would copy the image into a fresh allocation (about 0.8 ms for a 1.5 MB
    JPEG here, most of it page faults: a fifth of the bot's event-loop time when a hundred
    results arrive together). Nothing here needs them joined: the container check reads the
    header and the last bytes, the upload hands the pieces to the socket one by one
    (`_HeldImagePayload`), and `read` joins only what it is asked for. Closing it gives its share
    of the memory budget back."""

    def __init__(self, pieces: list[bytes], budget: MemoryBudget, held: int) -> None:
        super().__init__()
        self._pieces = pieces
        self._starts = list(itertools.accumulate(map(len, pieces), initial=0))
        self.size = self._starts[-1]
        self._pos = 0
        self._budget = budget
        self._held = held

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._checkClosed()  # type: ignore[attr-defined]
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._checkClosed()  # type: ignore[attr-defined]
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def views(self, start: int = 0, stop: int | None = None) -> Iterator[memoryview]:
        """The bytes from `start` to `stop` (the end by default), piece by piece, without a copy."""
        self._checkClosed()  # type: ignore[attr-defined]  # closed: no bytes, not silently none
        stop = self.size if stop is None else min(stop, self.size)
        i = bisect.bisect_right(self._starts, start) - 1
        while start < stop and i < len(self._pieces):
            view = memoryview(self._pieces[i])[start - self._starts[i] : stop - self._starts[i]]
            if view:
                yield view
                start += len(view)
            i += 1

    def read(self, size: int | None = -1) -> bytes:
        """Pillow reads a header a few bytes at a time (about 40 reads for a 2K JPEG): a read within
        one piece is a slice of it (the whole piece itself, uncopied), only one across pieces is
        joined from their views."""
        self._checkClosed()  # type: ignore[attr-defined]
        start = self._pos
        stop = min(self.size if size is None or size < 0 else start + size, self.size)
        if start >= stop:
            return b""
        i = bisect.bisect_right(self._starts, start) - 1
        piece, offset = self._pieces[i], start - self._starts[i]
        if stop <= self._starts[i + 1]:
            data = piece if offset == 0 and stop - start == len(piece) else piece[offset : stop - self._starts[i]]
        else:
            data = b"".join(self.views(start, stop))
        self._pos = stop
        return data

    read1 = read

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._budget.give(self._held)
            self._held, self._pieces = 0, []
        super().close()


class _HeldImagePayload(payload.Payload):
    """How aiohttp uploads a `HeldImage`: each piece handed to the transport as it is (a
    memoryview: the socket takes what it can straight from it, the transport copies the rest
    once), then one wait for the socket to drain. aiohttp's ``BytesIOPayload`` would write
    64 KiB at a time with a trip through the event loop for each (24 trips for a 1.5 MB JPEG,
    times a hundred uploads at once). Every write starts where the file stood when the payload
    was made (discord.py rewinds the file before a retry and makes a new payload)."""

    _autoclose = True  # in memory: nothing to release after the upload (the runner closes the image)

    def __init__(self, value: HeldImage, *args: Any, **kwargs: Any) -> None:
        super().__init__(value, *args, **kwargs)
        self._start = value.tell()
        self._size = value.size - self._start

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self._bytes().decode(encoding, errors)

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self._bytes()  # an image: the bytes themselves, not text encoded again

    def _bytes(self) -> bytes:
        return b"".join(self._value.views(self._start))

    async def write(self, writer: Any) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: Any, content_length: int | None) -> None:
        stop = None if content_length is None else self._start + content_length
        for view in self._value.views(self._start, stop):
            await writer.write(view, drain=False)
        await writer.drain()


payload.PAYLOAD_REGISTRY.register(_HeldImagePayload, HeldImage, order=payload.Order.try_first)


class Spool:
    """A write-only byte sink for one result: the chunks as received while `budget` takes each
    write (no copy), moved to a temporary file at the first write it refuses (or at once when
    `expect` announces more than the per-item cap). `finish` hands over the rewound file (a
    `HeldImage` over those chunks, or the temporary file); closing that file frees the memory
    or deletes the temporary file. `close` discards an unfinished spool."""

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

    def finish(self) -> IO[bytes]:
        target: IO[bytes]
        if self._chunks is not None:
            target = HeldImage(self._chunks, self._budget, self._held)
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


