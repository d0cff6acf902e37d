//! `Framing::Delimited`: 1 to 3 delimiters of 1 to 4 bytes (often drawn
//! from a 4-letter alphabet, so they overlap and are prefixes of one
//! another), arbitrary bytes, chunking and frame limit; see the harness
//! (`fuzz/src/lib.rs`) for every property checked.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use iochannels::Framing;
use iochannels_fuzz::{check_decoder, check_encoder, limit, narrow, Chunk};
use libfuzzer_sys::fuzz_target;

/// Delimiters and data are drawn from these when `narrow`.
const ALPHABET: &[u8] = b"ab\r\n";

#[derive(Debug, Arbitrary)]
struct Input {
    count: u8,
    lens: [u8; 3],
    delims: [[u8; 4]; 3],
    narrow: bool,
    limit: u16,
    data: Vec<u8>,
    chunks: Vec<Chunk>,
    item: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let count = 1 + usize::from(input.count) % 3;
    let delims: Vec<Bytes> = (0..count)
        .map(|i| {
            let raw = &input.delims[i][..1 + usize::from(input.lens[i]) % 4];
            if input.narrow {
                Bytes::from(narrow(raw, ALPHABET))
            } else {
                Bytes::copy_from_slice(raw)
            }
        })
        .collect();
    let (data, item) = if input.narrow {
        (narrow(&input.data, ALPHABET), narrow(&input.item, ALPHABET))
    } else {
        (input.data, input.item)
    };
    let framing = Framing::Delimited(delims);
    let limit = limit(input.limit);
    check_decoder(&framing, limit, &data, &input.chunks);
    check_encoder(&framing, limit, &item);
});
