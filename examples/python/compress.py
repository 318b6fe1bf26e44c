"""Compress and encode data round trip: zlib, gzip, bz2, lzma, base64."""
import base64
import bz2
import gzip
import io
import lzma
import zlib

data = ("the quick brown fox " * 500).encode()
for name, pack, unpack in [
    ("zlib", zlib.compress, zlib.decompress),
    ("gzip", gzip.compress, gzip.decompress),
    ("bz2", bz2.compress, bz2.decompress),
    ("lzma", lzma.compress, lzma.decompress),
]:
    packed = pack(data)
    assert unpack(packed) == data
    print(f"{name}: {len(data)} -> {len(packed)}")
buf = io.BytesIO()
with gzip.GzipFile(fileobj=buf, mode="wb") as f:
    f.write(data)
print("base64 head:", base64.b64encode(buf.getvalue())[:8].decode())
