"""A minimal FIT encoder for tests (fitdecode only reads): a file_id and one `record` message (timestamp,
heart_rate) per sample, little-endian, with the header and file CRCs of the FIT protocol."""
from __future__ import annotations

import struct

FIT_EPOCH = 631065600  # 1989-12-31T00:00:00Z in POSIX seconds
_CRC = (0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
        0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400)


def crc16(data: bytes, crc: int = 0) -> int:
    for byte in data:
        for nibble in (byte & 0xF, byte >> 4):
            tmp = _CRC[crc & 0xF]
            crc = (crc >> 4) & 0x0FFF
            crc = crc ^ tmp ^ _CRC[nibble]
    return crc


def fit_heart_rate(posix_times, rates) -> bytes:
    body = bytearray()
    # definition of local message 0 = file_id (global 0): type (enum, 1 byte) = 4 (activity)
    body += struct.pack("<BBBHB", 0x40, 0, 0, 0, 1) + bytes([0, 1, 0x00])
    body += struct.pack("<BB", 0x00, 4)
    # definition of local message 1 = record (global 20): timestamp (253, uint32), heart_rate (3, uint8)
    body += struct.pack("<BBBHB", 0x41, 0, 0, 20, 2) + bytes([253, 4, 0x86, 3, 1, 0x02])
    for t, hr in zip(posix_times, rates):
        body += struct.pack("<BIB", 0x01, int(round(t)) - FIT_EPOCH, int(round(hr)))
    header = struct.pack("<BBHI4s", 14, 0x20, 2132, len(body), b".FIT")
    header += struct.pack("<H", crc16(header))
    data = header + bytes(body)
    return data + struct.pack("<H", crc16(data))
