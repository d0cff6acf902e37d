#!/usr/bin/env python3
"""Writes the committed seed inputs, fuzz/corpus/<target>/seed-*.

Each seed is the byte encoding `arbitrary` 1.x parses into the target's
`Input` (integers little-endian, a bool is a byte's low bit, each element of
a Vec is preceded by a byte whose low bit says "one more"). Check one with
`cargo +nightly fuzz fmt <target> fuzz/corpus/<target>/seed-...`; if a
target's `Input` changes, change its seeds here and re-run this script.
"""
import struct, os
def u8(x): return bytes([x])
def u16(x): return struct.pack('<H', x)
def b(x): return bytes([1 if x else 0])
def vec(elems, enc):
    out = b''
    for e in elems: out += b'\x01' + enc(e)
    return out + b'\x00'
def bytes_vec(data): return vec(list(data), u8)
def chunk(c):
    l, big, realloc = c
    return u8(l) + b(big) + b(realloc)
def chunks(cs): return vec(cs, chunk)
def lim(L): return L - 1           # limit(x) = 1 + x % 4096
def small(L): return L - 1         # 1 + x % 64
def lp(p): return struct.pack('>I', len(p)) + p

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
seeds = {
 'lines': {
  'seed-overlong': u16(lim(8)) + b(False) + bytes_vec(b"short\nmuch too long line\nok\n12345678")
        + chunks([(3,False,False),(1,False,True),(5,False,False)]) + bytes_vec(b"item"),
  'seed-invalid-utf8-bytewise': u16(lim(4096)) + b(False) + bytes_vec(b"\xff\xfe\n\xc0\x80\n\n\xe2\x82")
        + chunks([(1,False,False)]) + bytes_vec(b"\xff\n"),
  'seed-empty-lines': u16(lim(1)) + b(False) + bytes_vec(b"\n\n\nx\n\n")
        + chunks([(2,False,True)]) + bytes_vec(b""),
 },
 'delimited': {
  # "\r\n", "\r\n\r\n", "END": a longer delimiter that starts with a shorter one
  'seed-prefix-related': u8(2) + bytes([1,3,2]) + b"\r\n\0\0" + b"\r\n\r\n" + b"END\0" + b(False) + u16(lim(16))
        + bytes_vec(b"head\r\n\r\na\r\nbENDx\r\n\rySTUFFENENDtoo long for sixteen\r\nEND\r\ntail\r\n")
        + chunks([(1,False,False)]) + bytes_vec(b"it\r"),
  # "aba", "ba", "b": overlapping occurrences
  'seed-overlapping': u8(2) + bytes([2,1,0]) + b"aba\0" + b"ba\0\0" + b"b\0\0\0" + b(False) + u16(lim(6))
        + bytes_vec(b"abababbaabaxxxxxxxxxabxxba")
        + chunks([(2,False,True),(1,False,False),(3,False,False)]) + bytes_vec(b"ab"),
  'seed-narrow': u8(1) + bytes([3,1,0]) + bytes([2,3,2,3]) + bytes([2,3,0,0]) + bytes([0]*4) + b(True) + u16(lim(12))
        + bytes_vec(bytes([0,1,2,3,2,3,0,2,3,2,1,1,1,1,1,1,1,1,1,1,1,1,1,1,2,3,2,3,0,0,2]))
        + chunks([(7,False,False),(1,False,True)]) + bytes_vec(bytes([0,2,3])),
 },
 'exact': {
  'seed-zero-is-invalid': u8(0) + b(False) + u16(lim(100)) + bytes_vec(b"abc") + chunks([(1,False,False)]) + bytes_vec(b""),
  'seed-over-limit': u8(10) + b(True) + u16(small(4)) + bytes_vec(b"0123456789abcdefghij01234")
        + chunks([(3,False,True)]) + bytes_vec(b"0123456789"),
  'seed-short-tail': u8(3) + b(False) + u16(lim(4096)) + bytes_vec(b"abcdefgh")
        + chunks([(1,False,False),(2,False,True)]) + bytes_vec(b"xyz"),
 },
 'length_prefixed': {
  # A frame, an empty frame, a 4 GiB - 1 prefix (refused, its skip cut by the end);
  # round trip: payloads under, at and over a limit of 8.
  'seed-4gib-prefix': b(True) + u16(small(8)) + bytes_vec(lp(b"ok") + lp(b"") + b"\xff\xff\xff\xff" + b"junk")
        + chunks([(1,False,False)])
        + vec([b"a", b"", b"123456789", b"12345678"], bytes_vec) + chunks([(1,False,True)]),
  'seed-truncated': b(True) + u16(small(8)) + bytes_vec(lp(b"abc") + b"\x00\x00\x00\x05ab")
        + chunks([(2,False,False)]) + vec([], bytes_vec) + chunks([]),
  'seed-over-limit-then-frame': b(True) + u16(small(8)) + bytes_vec(b"\x00\x00\x00\x0a0123456789" + lp(b"next") + b"\x00\x00")
        + chunks([(3,False,True),(1,False,False)]) + vec([b"next"], bytes_vec) + chunks([(2,False,False)]),
 },
 'bytes': {
  'seed-chunks': u16(lim(1)) + bytes_vec(b"hello world, far more than the limit of one byte")
        + chunks([(1,False,True),(4,False,False),(0,False,False),(2,True,False)]) + bytes_vec(b"anything"),
 },
}
for t, d in seeds.items():
    os.makedirs(f'{root}/{t}', exist_ok=True)
    for name, data in d.items():
        open(f'{root}/{t}/{name}', 'wb').write(data)
        print(t, name, len(data))
