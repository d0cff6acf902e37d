//! `Framing::Lines`: arbitrary bytes, chunking and frame limit; see the
//! harness (`fuzz/src/lib.rs`) for every property checked.
#![no_main]

use arbitrary::Arbitrary;
use iochannels::Framing;
use iochannels_fuzz::{check_decoder, check_encoder, limit, narrow, Chunk};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    limit: u16,
    /// Map the data into `a`, `\r`, `\n` (many short lines) instead of raw bytes.
    narrow: bool,
    data: Vec<u8>,
    chunks: Vec<Chunk>,
    item: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let limit = limit(input.limit);
    let data = if input.narrow {
        narrow(&input.data, b"a\r\n")
    } else {
        input.data
    };
    check_decoder(&Framing::Lines, limit, &data, &input.chunks);
    check_encoder(&Framing::Lines, limit, &input.item);
});
