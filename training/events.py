"""TensorBoard event files, written directly: TFRecord framing (masked CRC-32C) around hand-
encoded `Event`/`Summary` protobufs (scalars and PNG images). `tensorboard --logdir runs/`
reads them; no tensorboard/tensorflow package is needed to write them.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, wire: int, payload: bytes) -> bytes:
    key = _varint((num << 3) | wire)
    return key + (_varint(len(payload)) + payload if wire == 2 else payload)


def _event(step: int, summary_values: list[bytes] | None = None, file_version: str = "") -> bytes:
    msg = _field(1, 1, struct.pack("<d", time.time())) + _field(2, 0, _varint(step))
    if file_version:
        msg += _field(3, 2, file_version.encode())
    if summary_values:
        msg += _field(5, 2, b"".join(_field(1, 2, v) for v in summary_values))
    return msg


class EventWriter:
    """Appends scalar and image summaries to one event file in `logdir`. close() is safe twice."""

    def __init__(self, logdir: str | os.PathLike) -> None:
        self.dir = Path(logdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}"
        self.path = self.dir / name
        self._f = open(self.path, "ab")  # noqa: SIM115 — held open for the run
        self._write(_event(0, file_version="brain.Event:2"))

    def _write(self, data: bytes) -> None:
        if self._f is None:
            return
        header = struct.pack("<Q", len(data))
        self._f.write(header + struct.pack("<I", masked_crc(header)))
        self._f.write(data + struct.pack("<I", masked_crc(data)))

    def scalars(self, step: int, values: dict[str, float]) -> None:
        vals = [
            _field(1, 2, tag.encode()) + _field(2, 5, struct.pack("<f", float(v)))
            for tag, v in values.items()
        ]
        self._write(_event(step, vals))

    def image(self, step: int, tag: str, png: bytes, height: int, width: int) -> None:
        img = (
            _field(1, 0, _varint(height))
            + _field(2, 0, _varint(width))
            + _field(3, 0, _varint(3))
            + _field(4, 2, png)
        )
        self._write(_event(step, [_field(1, 2, tag.encode()) + _field(4, 2, img)]))

    def flush(self) -> None:
        if self._f is not None:
            self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = buf[i]
        n |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return n, i
        shift += 7


def _parse(buf: bytes) -> list[tuple[int, int, bytes]]:
    """(field, wire, raw value) of one protobuf message (varints as int bytes)."""
    out, i = [], 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _read_varint(buf, i)
            out.append((num, wire, v.to_bytes(8, "little")))
        elif wire == 1:
            out.append((num, wire, buf[i : i + 8]))
            i += 8
        elif wire == 5:
            out.append((num, wire, buf[i : i + 4]))
            i += 4
        else:
            n, i = _read_varint(buf, i)
            out.append((num, wire, buf[i : i + n]))
            i += n
    return out


def read_scalars(path: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in an event file, by tag: [(step, value)]; CRCs are checked."""
    data = Path(path).read_bytes()
    out: dict[str, list[tuple[int, float]]] = {}
    i = 0
    while i < len(data):
        (n,) = struct.unpack_from("<Q", data, i)
        if struct.unpack_from("<I", data, i + 8)[0] != masked_crc(data[i : i + 8]):
            raise ValueError(f"{path}: bad length CRC at byte {i}")
        rec = data[i + 12 : i + 12 + n]
        if struct.unpack_from("<I", data, i + 12 + n)[0] != masked_crc(rec):
            raise ValueError(f"{path}: bad data CRC at byte {i}")
        i += 16 + n
        fields = _parse(rec)
        step = next((int.from_bytes(v, "little") for f, _, v in fields if f == 2), 0)
        for f, _, summary in fields:
            if f != 5:
                continue
            for _, _, value in _parse(summary):
                vf = {num: v for num, _, v in _parse(value)}
                if 2 in vf:
                    tag = vf[1].decode()
                    out.setdefault(tag, []).append((step, struct.unpack("<f", vf[2])[0]))
    return out
