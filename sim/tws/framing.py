"""Length-prefixed, NUL-separated TWS frames and the API handshake.

Every TWS message (both directions) is a 4-byte big-endian length followed by text fields, each
terminated by NUL. The one exception is the client hello: `API\\0` unframed, then a framed
`v<min>..<max>[ options]`. The server answers with exactly two fields (version, connection time);
the client does not check the upper bound, so the server must pick `min(client max, ours)`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from datetime import datetime

SERVER_MAX_VERSION = 178
"""Highest version we encode (ib_async 2.1.0's maximum). Above it lies the protobuf protocol."""
SERVER_MIN_VERSION = 157
"""Lowest version both supported clients (ib_insync 0.9.86, ib_async 2.1.0) accept."""

UNSET_DOUBLE = 1.7976931348623157e308
UNSET_INTEGER = 2**31 - 1

_HEADER = struct.Struct(">I")
API_PREFIX = b"API\0"


def fmt(value: object) -> str:
    """One field as TWS writes it: None -> "", bools 0/1, floats without trailing noise."""
    if value is None:
        return ""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, float):
        if value == UNSET_DOUBLE:
            return "1.7976931348623157E308"
        if math.isinf(value):
            return "Infinite"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value)) if value != 0 else "0"
        return repr(value)
    return str(value)


def encode(fields: Iterable[object]) -> bytes:
    """Frame one message: each field formatted, NUL-terminated, length-prefixed."""
    payload = "".join(fmt(f) + "\0" for f in fields).encode()
    return _HEADER.pack(len(payload)) + payload


class FrameReader:
    """Accumulates bytes from the socket and yields complete messages as field lists."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[list[str]]:
        self._buf += data
        messages: list[list[str]] = []
        buf = self._buf
        pos = 0
        while len(buf) - pos >= 4:
            (size,) = _HEADER.unpack_from(buf, pos)
            end = pos + 4 + size
            if len(buf) < end:
                break
            text = bytes(buf[pos + 4 : end]).decode(errors="backslashreplace")
            fields = text.split("\0")
            if fields and fields[-1] == "":
                fields.pop()
            messages.append(fields)
            pos = end
        if pos:
            del buf[:pos]
        return messages

    def feed_raw(self, data: bytes) -> None:
        """Buffer bytes without parsing frames (before the unframed hello prefix is consumed)."""
        self._buf += data

    def take_raw(self, n: int) -> bytes | None:
        """Remove and return `n` unframed bytes (the `API\\0` hello prefix), or None if short."""
        if len(self._buf) < n:
            return None
        raw = bytes(self._buf[:n])
        del self._buf[:n]
        return raw


class HandshakeError(ValueError):
    """The client's hello was malformed or asks for versions we cannot speak.

    `client_max` is set when the hello was readable but its versions are too old: the gateway
    then still answers the handshake (at that version) so it can tell the client why, in an
    error message every API version decodes, before it closes the socket.
    """

    def __init__(self, message: str, client_max: int | None = None) -> None:
        super().__init__(message)
        self.client_max = client_max


def parse_hello(fields: list[str]) -> tuple[int, int, str]:
    """`["v157..178 +PACEAPI"]` -> (157, 178, "+PACEAPI")."""
    if not fields or not fields[0].startswith("v"):
        raise HandshakeError(f"hello: expected 'v<min>..<max>', got {fields!r}")
    text = fields[0][1:]
    versions, _, options = text.partition(" ")
    lo, sep, hi = versions.partition("..")
    try:
        cmin = int(lo)
        cmax = int(hi) if sep else cmin
    except ValueError as exc:
        raise HandshakeError(f"hello: bad version range {versions!r}") from exc
    return cmin, cmax, options.strip()


def negotiate_version(client_min: int, client_max: int) -> int:
    """`min(client max, 178)`, never 158 (ib_insync reads openOrder.duration only from 159)."""
    version = min(client_max, SERVER_MAX_VERSION)
    if version == 158:
        version = 157
    if version < max(client_min, SERVER_MIN_VERSION):
        raise HandshakeError(
            f"Unsupported version: the client speaks API v{client_min}..{client_max}, this Gateway "
            f"simulator v{SERVER_MIN_VERSION}..{SERVER_MAX_VERSION}; upgrade the client "
            "(ibapi 9.81+, ib_insync 0.9.86, ib_async 2.x)",
            client_max=client_max if client_max >= 100 else None,
        )
    return version


def handshake_reply(version: int, now: datetime) -> bytes:
    """The server's two-field answer; the client ignores the time string but needs the count."""
    return encode([version, now.strftime("%Y%m%d %H:%M:%S ") + (now.tzname() or "EST")])
