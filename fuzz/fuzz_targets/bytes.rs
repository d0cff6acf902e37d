//! `Framing::Bytes`: arbitrary bytes and chunking; the frame limit must not
//! apply. Each read is one frame and the frames add up to the input; see
//! the harness (`fuzz/src/lib.rs`) for every property checked.
#![no_main]

use arbitrary::Arbitrary;
use iochannels::Framing;
use iochannels_fuzz::{check_decoder, check_encoder, limit, Chunk};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    limit: u16,
    data: Vec<u8>,
    chunks: Vec<Chunk>,
    item: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let limit = limit(input.limit);
    check_decoder(&Framing::Bytes, limit, &input.data, &input.chunks);
    check_encoder(&Framing::Bytes, limit, &input.item);
});
