"""The live danmaku WebSocket's binary framing: pure functions, bytes in, packets out.

Every packet starts with a 16-byte big-endian header: packet length (header included), header length (16),
protocol version, operation, sequence id. Version 0 and 1 bodies are plain (JSON, or for op 3 a 4-byte
popularity count); version 2 bodies are zlib and version 3 bodies brotli, each holding further whole
packets. One WebSocket frame may carry several packets back to back.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import brotli

HEADER = struct.Struct(">IHHII")
HEADER_LEN = HEADER.size  # 16

# operations
HEARTBEAT = 2
HEARTBEAT_REPLY = 3  # body: popularity, 4-byte big-endian
MESSAGE = 5  # body: one command as JSON (or compressed packets)
AUTH = 7
AUTH_REPLY = 8  # body: {"code": 0} on success

# protocol versions
PLAIN_JSON = 0
PLAIN_INT = 1
ZLIB = 2
BROTLI = 3

_MAX_NESTING = 2  # a compressed body holds plain packets; one more level is tolerated, never unbounded recursion


class ProtocolError(ValueError):
    """Bytes that are not a well-formed packet (a bad header, a length past the end, a body that will not inflate)."""


@dataclass(frozen=True, slots=True)
class Packet:
    op: int
    body: bytes
    version: int = PLAIN_JSON
    seq: int = 1

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def popularity(self) -> int:
        return int.from_bytes(self.body[:4], "big") if len(self.body) >= 4 else 0


def encode(op: int, body: bytes | str | dict[str, Any] = b"", *, version: int = PLAIN_INT, seq: int = 1) -> bytes:
    if isinstance(body, dict):
        body = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return HEADER.pack(HEADER_LEN + len(raw), HEADER_LEN, version, op, seq) + raw


def compress(packets: bytes, version: int) -> bytes:
    """Several encoded packets as one op-5 packet with a zlib (2) or brotli (3) body, as the server sends them."""
    body = zlib.compress(packets) if version == ZLIB else brotli.compress(packets)
    return encode(MESSAGE, body, version=version, seq=0)


def decode(frame: bytes, *, _depth: int = 0) -> list[Packet]:
    """Every packet in a frame, compressed bodies opened. Raises ProtocolError naming what is wrong."""
    packets: list[Packet] = []
    offset = 0
    while offset < len(frame):
        if len(frame) - offset < HEADER_LEN:
            raise ProtocolError(f"{len(frame) - offset} trailing bytes are shorter than a header")
        length, header_len, version, op, seq = HEADER.unpack_from(frame, offset)
        if header_len < HEADER_LEN or length < header_len or offset + length > len(frame):
            raise ProtocolError(f"op {op}: packet length {length} / header {header_len} do not fit the frame "
                                f"({len(frame) - offset} bytes left)")
        body = frame[offset + header_len: offset + length]
        offset += length
        if op == MESSAGE and version in (ZLIB, BROTLI):
            if _depth >= _MAX_NESTING:
                raise ProtocolError(f"op {op}: compressed packets nested too deep")
            packets.extend(decode(_inflate(body, version, op), _depth=_depth + 1))
        else:
            packets.append(Packet(op, body, version, seq))
    return packets


def _inflate(body: bytes, version: int, op: int) -> bytes:
    try:
        return zlib.decompress(body) if version == ZLIB else brotli.decompress(body)
    except (zlib.error, brotli.error) as exc:
        raise ProtocolError(f"op {op}: version {version} body does not decompress: {exc}") from None
