//! Test traffic whose every byte is checkable: numbered client lines of
//! varied length, with content derived from (client, line).

/// splitmix64: a cheap, well-mixed function of (client, line), so every line
/// carries content a swapped, dropped or duplicated byte would break.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Bytes the padding of a line is taken from.
pub const PAD: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Appends line `line` of client `client` to `out`:
/// `c{client} l{line} {hash:016x} {pad}\n`, with 0 to 47 bytes of pad that
/// also depend on the hash (~50 bytes on average), so lines have varied
/// lengths and chunk boundaries fall everywhere.
pub fn client_line(client: usize, line: usize, out: &mut Vec<u8>) {
    use std::io::Write;
    let h = mix(((client as u64) << 32) | line as u64);
    write!(out, "c{client} l{line} {h:016x} ").expect("writing to a Vec");
    let len = (h % 48) as usize;
    let start = ((h >> 8) % (PAD.len() as u64 - 48)) as usize;
    out.extend_from_slice(&PAD[start..start + len]);
    out.push(b'\n');
}
