"""uniqueString() and guid() exactly as Azure Resource Manager computes them.

uniqueString: the arguments joined with '-', UTF-8 encoded, hashed with the 64-bit MurmurHash
variant of Microsoft's ResourceStack library (two 32-bit lanes, MurmurHash3-x86 constants, seed 0),
then the 64-bit value written as 13 base-32 digits (alphabet a-z2-7) from the most significant bits.
Checked against the published vector of Azure/terraform-provider-azapi's `unique_string` function
(which exists to reproduce ARM names): ('/subscriptions/00000000-0000-0000-0000-000000000000',
'resource-id') -> 'cwvxuqg24sifi'.

guid: an RFC 4122 version-5 UUID over ARM's fixed namespace 11fb06fb-712d-4ddd-98c7-e71bbd588830 of the
arguments joined with '-' (documented on the Bicep string-functions page)."""

from __future__ import annotations

import uuid

_M32 = 0xFFFFFFFF
_C1, _C2 = 0x239B961B, 0xAB0E9789
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def _fmix(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h


def _word(data: bytes, start: int, count: int) -> int:
    return int.from_bytes(data[start : start + count], "little")


def murmur_hash64(data: bytes, seed: int = 0) -> int:
    length = len(data)
    h1 = h2 = seed & _M32
    index = 0
    while index + 7 < length:
        k1 = (_rotl((_word(data, index, 4) * _C1) & _M32, 15) * _C2) & _M32
        h1 = (((_rotl(h1 ^ k1, 19) + h2) & _M32) * 5 + 0x561CCD1B) & _M32
        k2 = (_rotl((_word(data, index + 4, 4) * _C2) & _M32, 17) * _C1) & _M32
        h2 = (((_rotl(h2 ^ k2, 13) + h1) & _M32) * 5 + 0x0BCAA747) & _M32
        index += 8
    tail = length - index
    if tail > 0:
        k1 = (_rotl((_word(data, index, min(tail, 4)) * _C1) & _M32, 15) * _C2) & _M32
        h1 ^= k1
        if tail > 4:
            k2 = (_rotl((_word(data, index + 4, tail - 4) * _C2) & _M32, 17) * _C1) & _M32
            h2 ^= k2
    h1 ^= length & _M32
    h2 ^= length & _M32
    h1 = (h1 + h2) & _M32
    h2 = (h2 + h1) & _M32
    h1 = _fmix(h1)
    h2 = _fmix(h2)
    h1 = (h1 + h2) & _M32
    h2 = (h2 + h1) & _M32
    return (h2 << 32) | h1


def unique_string(*values: str) -> str:
    value = murmur_hash64("-".join(values).encode("utf-8"))
    out = []
    for _ in range(13):
        out.append(_ALPHABET[value >> 59])
        value = (value << 5) & 0xFFFFFFFFFFFFFFFF
    return "".join(out)


def arm_guid(*values: str) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, "-".join(values)))
