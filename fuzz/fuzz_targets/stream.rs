//! The streaming parser on arbitrary bytes in arbitrary chunks: it must
//! never panic, report at most one error, and give the same events however
//! the bytes are chunked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quarry::stream::{parse_all, StreamParser};
use quarry::Event;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, bytes)) = data.split_first() else { return };
    let whole = parse_all(bytes);
    let mut parser = StreamParser::new();
    let mut chunked = Vec::new();
    let step = usize::from(seed % 7) + 1;
    for chunk in bytes.chunks(step) {
        chunked.extend(parser.push(chunk));
    }
    chunked.extend(parser.finish());
    assert!(whole.iter().filter(|e| matches!(e, Event::Error(_))).count() <= 1);
    // Error texts may differ in position details only if chunking mattered;
    // it must not, so compare everything.
    assert_eq!(whole, chunked);
});
