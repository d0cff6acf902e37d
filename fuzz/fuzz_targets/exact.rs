//! `Framing::Exact(n)`, n in 0..=64 (0 is invalid: every call must say so),
//! arbitrary bytes, chunking and frame limit; see the harness
//! (`fuzz/src/lib.rs`) for every property checked.
#![no_main]

use arbitrary::Arbitrary;
use iochannels::Framing;
use iochannels_fuzz::{check_decoder, check_encoder, limit, Chunk};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    n: u8,
    /// Use a limit of 1..=64 (so `n` is often over it) rather than 1..=4096.
    small_limit: bool,
    limit: u16,
    data: Vec<u8>,
    chunks: Vec<Chunk>,
    item: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let n = usize::from(input.n) % 65;
    let limit = if input.small_limit {
        1 + usize::from(input.limit) % 64
    } else {
        limit(input.limit)
    };
    let framing = Framing::Exact(n);
    check_decoder(&framing, limit, &input.data, &input.chunks);
    check_encoder(&framing, limit, &input.item);
});
