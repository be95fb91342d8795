//! Arbitrary bytes through the whole configuration pipeline: the parse-only layer, the
//! loader (isolated environment: no file system, no databases), and the printer, whose output
//! must load again and print identically.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xinetd_conf::{load_bytes, parse_document, print, Environment, LoadOptions};

fuzz_target!(|data: &[u8]| {
    let _ = parse_document(data, "fuzz.conf");
    for debug in [false, true] {
        let env = Environment::isolated();
        let options = LoadOptions::new().debug(debug);
        if let Ok(loaded) = load_bytes(data, "fuzz.conf", &env, &options) {
            let text = print(&loaded.config);
            let again = load_bytes(text.as_bytes(), "printed.conf", &env, &options)
                .expect("printed configuration loads");
            assert_eq!(again.config.services.len(), loaded.config.services.len(), "{text}");
            assert_eq!(print(&again.config), text);
        }
    }
});
