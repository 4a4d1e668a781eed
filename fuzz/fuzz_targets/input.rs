//! Request bodies: any bytes give an input or a clear error, never a panic;
//! an accepted input serializes back to a body that is accepted again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quarry::Input;

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = Input::from_json(data) {
        let body = serde_json_roundtrip(&input);
        assert_eq!(Input::from_json(body.as_bytes()).as_ref(), Ok(&input));
    }
});

fn serde_json_roundtrip(input: &Input) -> String {
    quarry::contract::to_json(input)
}
