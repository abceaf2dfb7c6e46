"""The summary format of scaled-protocol(7) "SUMMARY FORMAT", versions 1 and 2,
written from the man page alone: an oracle for what scaled and scalectl read
and write."""
import struct

MASK = (1 << 64) - 1


class Reader:
    def __init__(self, b):
        self.b, self.i = b, 0

    def take(self, n):
        if self.i + n > len(self.b):
            raise ValueError("truncated")
        out = self.b[self.i:self.i + n]
        self.i += n
        return out

    def i64(self):
        return struct.unpack("<q", self.take(8))[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]

    def u16(self):
        return struct.unpack("<H", self.take(2))[0]

    def f64(self):
        return struct.unpack("<d", self.take(8))[0]

    def var(self):
        v = shift = 0
        while True:
            x = self.take(1)[0]
            v |= (x & 0x7F) << shift
            if not x & 0x80:
                return v
            shift += 7

    def svar(self):
        v = self.var()
        return v - (1 << 64) if v >= 1 << 63 else v


def var(v):
    v &= MASK
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def decode(b):
    """The values of a summary of either version, as a dict."""
    r = Reader(b)
    assert r.take(4) == b"LSBS"
    version = r.take(1)[0]
    assert version in (1, 2), version
    integer = r.i64 if version == 1 else r.svar

    def moments():
        return (integer(),) + tuple(r.f64() for _ in range(6))

    d = {"channels": integer()}
    c = d["channels"]
    d["counts"] = [integer() for _ in range(6)]
    d["total"] = moments()
    d["per_channel"] = [moments() for _ in range(c)]
    d["co_count"] = integer()
    if version == 1:
        assert r.i64() == c
    d["co_mean"] = [r.f64() for _ in range(c)]
    if version == 1:
        assert r.i64() == c * c
    d["co"] = [r.f64() for _ in range(c * c)]
    n = integer()
    sketch, key = [], -1
    for _ in range(n):
        if version == 1:
            key, count = r.u16(), r.u64()
        else:
            key += r.var()
            count = r.var()
        sketch.append((key, count))
    d["sketch"] = sketch
    d["spread"] = [moments() for _ in range(3 * (1 + c))]
    assert r.i == len(b), "trailing bytes"
    return d


def encode_v2(d):
    """Version 2 of the values `decode` returned."""
    out = bytearray(b"LSBS\x02")

    def moments(m):
        out.extend(var(m[0]))
        out.extend(struct.pack("<6d", *m[1:]))

    out += var(d["channels"])
    for x in d["counts"]:
        out += var(x)
    moments(d["total"])
    for m in d["per_channel"]:
        moments(m)
    out += var(d["co_count"])
    out += struct.pack(f"<{len(d['co_mean'])}d", *d["co_mean"])
    out += struct.pack(f"<{len(d['co'])}d", *d["co"])
    buckets = [(k, c) for k, c in d["sketch"] if c > 0]
    out += var(len(buckets))
    previous = -1
    for k, c in buckets:
        out += var(k - previous) + var(c)
        previous = k
    for m in d["spread"]:
        moments(m)
    return bytes(out)
