//! `Framing::LengthPrefixed`: arbitrary bytes (hostile length prefixes up to
//! 4 GiB included), chunking and frame limit through the decoder; and
//! arbitrary payloads encoded then decoded in arbitrary chunks (the
//! identity). See the harness (`fuzz/src/lib.rs`) for every property checked.
#![no_main]

use arbitrary::Arbitrary;
use iochannels::Framing;
use iochannels_fuzz::{
    check_decoder, check_encoder, check_length_prefixed_round_trip, limit, Chunk,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    /// Use a limit of 1..=64 (so payloads are often over it) rather than 1..=4096.
    small_limit: bool,
    limit: u16,
    data: Vec<u8>,
    chunks: Vec<Chunk>,
    payloads: Vec<Vec<u8>>,
    wire_chunks: Vec<Chunk>,
}

fuzz_target!(|input: Input| {
    let limit = if input.small_limit {
        1 + usize::from(input.limit) % 64
    } else {
        limit(input.limit)
    };
    check_decoder(&Framing::LengthPrefixed, limit, &input.data, &input.chunks);
    for payload in &input.payloads {
        check_encoder(&Framing::LengthPrefixed, limit, payload);
    }
    check_length_prefixed_round_trip(limit, &input.payloads, &input.wire_chunks);
});
