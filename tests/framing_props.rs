//! FrameCodec properties: chunk boundaries never change frames, frames put
//! back together give the input, encode-then-decode is the identity, and
//! switching framing at a frame boundary loses nothing.

mod support;

use bytes::{Bytes, BytesMut};
use iochannels::{FrameCodec, Framing};
use proptest::prelude::*;
use proptest::sample::select;
use support::frames::{drain, Out};
use tokio_util::codec::{Decoder, Encoder};

/// Bytes delimiters are made of; inputs use them and a few others, so
/// delimiters occur, overlap and get split across reads.
/// No `b'\n'` (an empty `Lines` item is `b"\n"`) and no `0` (the first byte
/// of a short length prefix), so in a stream of frames of mixed framings no
/// delimiter can run on into the next frame.
const DELIM_BYTES: &[u8] = b"ab\r;";
/// Bytes never in a delimiter (and not `b'\n'`): what encoded items use.
const ITEM_BYTES: &[u8] = b"xyz \0\xff";

/// Feeds `input` cut at `cuts`, decoding after each piece, then to the end.
fn run(framing: &Framing, limit: Option<usize>, input: &[u8], cuts: &[usize]) -> Vec<Out> {
    let mut codec = FrameCodec::new(framing.clone());
    if let Some(limit) = limit {
        codec.set_max_frame_len(limit);
    }
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in pieces(input, cuts) {
        buf.extend_from_slice(piece);
        drain(&mut codec, &mut buf, &mut out, false);
    }
    drain(&mut codec, &mut buf, &mut out, true);
    assert!(buf.is_empty());
    out
}

/// `input` cut at the (sorted, clamped) offsets in `cuts`.
fn pieces<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0;
    for cut in cuts {
        out.push(&input[at..cut]);
        at = cut;
    }
    out.push(&input[at..]);
    out
}

fn frames(out: Vec<Out>) -> Vec<Bytes> {
    out.into_iter()
        .map(|o| match o {
            Out::Frame(frame) => frame,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

fn delimiters() -> impl Strategy<Value = Vec<Bytes>> {
    let delim = prop::collection::vec(select(DELIM_BYTES), 1..=3).prop_map(Bytes::from);
    prop::collection::vec(delim, 1..=3)
}

/// Every framing but `LengthPrefixed`, whose input must be encoded.
fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        Just(Framing::Bytes),
        Just(Framing::Lines),
        delimiters().prop_map(Framing::Delimited),
        (1usize..=16).prop_map(Framing::Exact),
    ]
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> = [DELIM_BYTES, b"\nx\xff"].concat();
    prop::collection::vec(select(alphabet), 0..120)
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(any::<usize>(), 0..12)
}

fn limit() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![Just(None), (0usize..24).prop_map(Some)]
}

fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..30), 0..6)
}

fn length_prefixed(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut codec = FrameCodec::new(Framing::LengthPrefixed);
    let mut wire = BytesMut::new();
    for p in payloads {
        codec.encode(&p[..], &mut wire).unwrap();
    }
    wire.to_vec()
}

/// An item `framing`'s encoder frames so that decoding gives it back.
fn item_for(framing: &Framing) -> BoxedStrategy<Vec<u8>> {
    let safe = |range| prop::collection::vec(select(ITEM_BYTES), range);
    match framing {
        Framing::Exact(n) => safe(*n..*n + 1).boxed(),
        Framing::Lines => safe(0..20).boxed(),
        // Empty items are left out: two delimiters in a row can read back
        // as one longer delimiter (with `[b"a", b"aa"]`).
        Framing::Delimited(_) => safe(1..20).boxed(),
        _ => prop::collection::vec(any::<u8>(), 0..20).boxed(),
    }
}

fn framing_and_items() -> impl Strategy<Value = (Framing, Vec<Vec<u8>>)> {
    prop_oneof![framing(), Just(Framing::LengthPrefixed)].prop_flat_map(|framing| {
        let items = prop::collection::vec(item_for(&framing), 0..8);
        (Just(framing), items)
    })
}

fn encode_all(framing: &Framing, items: &[Vec<u8>]) -> Vec<u8> {
    let mut codec = FrameCodec::new(framing.clone());
    let mut wire = BytesMut::new();
    for item in items {
        codec
            .encode(Bytes::copy_from_slice(item), &mut wire)
            .unwrap();
    }
    wire.to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn any_chunking_gives_the_frames_of_the_whole_input(
        framing in framing(), input in input(), cuts in cuts(), limit in limit(),
    ) {
        let whole = run(&framing, limit, &input, &[]);
        let chunked = run(&framing, limit, &input, &cuts);
        if framing == Framing::Bytes {
            // A Bytes frame is whatever arrived: only the bytes are fixed.
            prop_assert_eq!(frames(chunked).concat(), frames(whole).concat());
        } else {
            prop_assert_eq!(chunked, whole);
        }
    }

    #[test]
    fn any_chunking_gives_the_same_length_prefixed_frames(
        payloads in payloads(), keep in any::<usize>(), cuts in cuts(), limit in limit(),
    ) {
        // The wire, possibly cut short so the end of stream falls inside a frame.
        let mut wire = length_prefixed(&payloads);
        if keep % 2 == 1 {
            wire.truncate(keep / 2 % (wire.len() + 1));
        }
        let whole = run(&Framing::LengthPrefixed, limit, &wire, &[]);
        prop_assert_eq!(run(&Framing::LengthPrefixed, limit, &wire, &cuts), whole);
    }

    #[test]
    fn frames_put_back_together_give_the_input(
        framing in framing(), input in input(), cuts in cuts(),
    ) {
        let out = frames(run(&framing, None, &input, &cuts));
        prop_assert_eq!(out.concat(), input);
    }

    #[test]
    fn length_prefixed_frames_reencoded_give_the_input(
        payloads in payloads(), cuts in cuts(),
    ) {
        let wire = length_prefixed(&payloads);
        let out = frames(run(&Framing::LengthPrefixed, None, &wire, &cuts));
        let out: Vec<Vec<u8>> = out.iter().map(|f| f.to_vec()).collect();
        prop_assert_eq!(&out, &payloads);
        prop_assert_eq!(length_prefixed(&out), wire);
    }

    #[test]
    fn encode_then_decode_is_the_identity(
        (framing, items) in framing_and_items(), cuts in cuts(),
    ) {
        let wire = encode_all(&framing, &items);
        let out = frames(run(&framing, None, &wire, &cuts));
        if framing == Framing::Bytes {
            prop_assert_eq!(out.concat(), items.concat());
        } else {
            let out: Vec<Vec<u8>> = out.iter().map(|f| f.to_vec()).collect();
            let expected: Vec<Vec<u8>> = match &framing {
                Framing::Lines => items.iter().map(|i| [&i[..], b"\n"].concat()).collect(),
                Framing::Delimited(list) => {
                    items.iter().map(|i| [&i[..], &list[0][..]].concat()).collect()
                }
                _ => items.clone(),
            };
            prop_assert_eq!(out, expected);
        }
    }

    #[test]
    fn set_framing_at_any_frame_boundary_loses_nothing(
        segments in prop::collection::vec(
            prop_oneof![
                Just(Framing::Lines),
                delimiters().prop_map(Framing::Delimited),
                (1usize..=16).prop_map(Framing::Exact),
                Just(Framing::LengthPrefixed),
            ]
            .prop_flat_map(|framing| (Just(framing.clone()), item_for(&framing))),
            0..8,
        ),
        cuts in cuts(),
    ) {
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for (framing, item) in &segments {
            wire.extend(encode_all(framing, std::slice::from_ref(item)));
            expected.push(match framing {
                Framing::Lines => [&item[..], b"\n"].concat(),
                Framing::Delimited(list) => [&item[..], &list[0][..]].concat(),
                _ => item.clone(),
            });
        }
        let mut pieces = pieces(&wire, &cuts).into_iter();
        let mut codec = FrameCodec::new(Framing::Bytes);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for (framing, _) in &segments {
            // Switch lazily, one frame at a time, as a reader would.
            codec.set_framing(framing.clone());
            let frame = loop {
                if let Some(frame) = codec.decode(&mut buf).unwrap() {
                    break frame;
                }
                match pieces.next() {
                    Some(piece) => buf.extend_from_slice(piece),
                    None => break codec.decode_eof(&mut buf).unwrap().unwrap(),
                }
            };
            out.push(frame.to_vec());
        }
        prop_assert_eq!(out, expected);
        prop_assert!(buf.is_empty());
        prop_assert!(pieces.all(|p| p.is_empty()));
    }
}
