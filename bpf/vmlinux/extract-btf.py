#!/usr/bin/env python3
"""extract-btf.py KERNEL-IMAGE OUT — writes the kernel's own BTF blob (.BTF) found in a vmlinuz.

Works on what Debian ships: x86's bzImage (an xz-compressed ELF inside) and arm64's
uncompressed Image. The blob is found by its header (magic 0xeB9F, version 1, 24-byte header);
the largest well-formed one is the kernel's (modules and test blobs are smaller).
bpftool then reads OUT like /sys/kernel/btf/vmlinux."""
import gzip
import lzma
import struct
import sys

HDR = b"\x9f\xeb\x01\x00\x18\x00\x00\x00"


def largest_btf(buf):
    best, pos = None, 0
    while True:
        i = buf.find(HDR, pos)
        if i < 0:
            return best
        pos = i + 1
        if i + 24 > len(buf):
            continue
        _, toff, tlen, soff, slen = struct.unpack_from("<IIIII", buf, i + 4)
        size = 24 + max(toff + tlen, soff + slen)
        if toff + tlen <= soff and i + size <= len(buf) and (best is None or size > best[1]):
            best = (i, size)


def payloads(data):
    yield "raw", data
    for name, magic in (("xz", b"\xfd7zXZ\x00"), ("gzip", b"\x1f\x8b\x08")):
        i = data.find(magic)
        if i < 0:
            continue
        try:
            if name == "xz":
                yield name, lzma.LZMADecompressor().decompress(data[i:])
            else:
                yield name, gzip.decompress(data[i:])
        except (lzma.LZMAError, OSError, EOFError):
            continue


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: extract-btf.py KERNEL-IMAGE OUT")
    data = open(sys.argv[1], "rb").read()
    for name, buf in payloads(data):
        found = largest_btf(buf)
        if found and found[1] > 1 << 20:  # a kernel's BTF is megabytes
            open(sys.argv[2], "wb").write(buf[found[0] : found[0] + found[1]])
            print("%s: %d bytes of BTF (%s payload)" % (sys.argv[1], found[1], name))
            return
    sys.exit("%s: no kernel BTF found (a kernel built without CONFIG_DEBUG_INFO_BTF?)" % sys.argv[1])


main()
