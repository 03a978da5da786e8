"""An incremental server-sent-events parser (the WHATWG event-stream rules that matter here).

Bytes go in as they arrive, in chunks cut anywhere; complete events come out. Handles LF, CRLF
and CR line ends (including a CRLF split across chunks), comment lines, multi-line `data`,
and a final event that the server did not terminate with a blank line.

What it holds is bounded: a line that has not ended, or one event's `data` lines together, over
`limit` bytes raise `EventTooLarge` (a gateway's line with no end would otherwise grow the buffer
for as long as it keeps sending).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LIMIT = 128 * 1024 * 1024


class EventTooLarge(ValueError):
    """A line, or an event's data, over the parser's limit: the stream cannot be read on."""


@dataclass(frozen=True)
class SSEEvent:
    event: str  # "message" when the server named none
    data: str


class SSEParser:
    def __init__(self, *, limit: int = DEFAULT_LIMIT) -> None:
        self._limit = limit  # bytes of one line, and of one event's data lines together
        self._buffer = bytearray()
        self._scan = 0  # bytes before this offset hold no line end (big b64 lines arrive in many chunks)
        self._event = ""
        self._data: list[str] = []
        self._data_bytes = 0
        self._too_large: EventTooLarge | None = None  # held back by `feed`, raised by `check`

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Events completed by this chunk. Raises EventTooLarge when the line still open is over
        the limit; events this chunk completed before it are returned first, and `check` (or the
        next feed or close) raises it."""
        self.check()
        self._buffer += chunk
        events: list[SSEEvent] = []
        try:
            while (line := self._take_line()) is not None:
                event = self._line(line)
                if event is not None:
                    events.append(event)
        except EventTooLarge as exc:
            if not events:
                raise
            self._too_large = exc
        return events

    def close(self) -> list[SSEEvent]:
        """Flush at end of stream: an unterminated last line and event still count."""
        self.check()
        if self._buffer:
            line = bytes(self._buffer).rstrip(b"\r")
            self._buffer.clear()
            self._line(line)
        event = self._dispatch()
        return [] if event is None else [event]

    def check(self) -> None:
        """Raise the EventTooLarge that `feed` held back to return the events before it."""
        if self._too_large is not None:
            self._buffer.clear()
            raise self._too_large

    def _take_line(self) -> bytes | None:
        buf = self._buffer
        ends = [i for i in (buf.find(b"\n", self._scan), buf.find(b"\r", self._scan)) if i >= 0]
        if not ends:
            if len(buf) > self._limit:  # one line without its end
                raise EventTooLarge(f"a server-sent-events line is over {self._limit:,} bytes")
            self._scan = len(buf)
            return None
        index = min(ends)
        skip = 1
        if buf[index] == 0x0D:  # \r alone or as \r\n
            if index + 1 == len(buf):
                self._scan = index  # the \n may come in the next chunk
                return None
            skip = 2 if buf[index + 1] == 0x0A else 1
        line = bytes(buf[:index])
        del buf[: index + skip]
        self._scan = 0
        return line

    def _line(self, raw: bytes) -> SSEEvent | None:
        if not raw:
            return self._dispatch()
        line = raw.decode("utf-8", errors="replace")
        if line.startswith(":"):
            return None  # comment / keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data_bytes += len(raw)
            if self._data_bytes > self._limit:
                raise EventTooLarge(f"a server-sent event's data is over {self._limit:,} bytes")
            self._data.append(value)
        return None  # "id", "retry" and unknown fields are ignored

    def _dispatch(self) -> SSEEvent | None:
        data, event = self._data, self._event
        self._data, self._event, self._data_bytes = [], "", 0
        if not data:
            return None
        return SSEEvent(event=event or "message", data="\n".join(data))
