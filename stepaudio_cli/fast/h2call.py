"""One unary gRPC call over HTTP/2 cleartext on a Unix socket (RFC 9113 framing, RFC 7541 HPACK
literals only). Returns the response message bytes, or None when anything is off: the caller then
falls back to the real grpc client, which reports errors properly.

What it does not do: decode response headers/trailers (an error response carries no DATA, which is
all we need to notice it), flow control beyond the default window (status replies are a few KiB).
"""
from __future__ import annotations

import socket
import struct


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, SETTINGS, PING, GOAWAY, RST_STREAM = 0x0, 0x1, 0x4, 0x6, 0x7, 0x3
END_STREAM, END_HEADERS, PADDED, ACK = 0x1, 0x4, 0x8, 0x1
MAX_RESPONSE = 4 * 1024 * 1024


def _frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def _hpack_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _hpack_literal(name: str, value: str) -> bytes:
    """Literal header field without indexing, new name, no Huffman (RFC 7541 §6.2.2)."""
    n, v = name.encode(), value.encode()
    return b"\x00" + _hpack_int(len(n), 7) + n + _hpack_int(len(v), 7) + v


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def unary_call(sock: socket.socket, path: str, message: bytes, metadata: list[tuple[str, str]]) -> bytes | None:
    headers = [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "localhost"),
               ("content-type", "application/grpc"), ("te", "trailers"), *metadata]
    block = b"".join(_hpack_literal(k, v) for k, v in headers)
    body = b"\x00" + struct.pack(">I", len(message)) + message
    sock.sendall(PREFACE + _frame(SETTINGS, 0, 0) + _frame(HEADERS, END_HEADERS, 1, block)
                 + _frame(DATA, END_STREAM, 1, body))
    data = bytearray()
    while True:
        head = _recv_exact(sock, 9)
        if head is None:
            return None
        length = int.from_bytes(head[:3], "big")
        kind, flags, stream = head[3], head[4], struct.unpack(">I", head[5:])[0] & 0x7FFFFFFF
        if length > MAX_RESPONSE:
            return None
        payload = _recv_exact(sock, length) if length else b""
        if payload is None:
            return None
        if kind == SETTINGS and not flags & ACK:
            sock.sendall(_frame(SETTINGS, ACK, 0))
        elif kind == PING and not flags & ACK:
            sock.sendall(_frame(PING, ACK, 0, payload))
        elif kind in (GOAWAY, RST_STREAM):
            return None
        elif kind == DATA and stream == 1:
            if flags & PADDED:
                payload = payload[1:len(payload) - payload[0]]
            data += payload
            if len(data) > MAX_RESPONSE:
                return None
        if stream == 1 and kind in (DATA, HEADERS) and flags & END_STREAM:
            break
    if len(data) < 5 or data[0] != 0:  # no message (an error status) or a compressed one
        return None
    size = struct.unpack(">I", data[1:5])[0]
    return bytes(data[5:5 + size]) if len(data) >= 5 + size else None
