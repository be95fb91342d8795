//! inetd.conf (`-inetd_compat`, `-convert-inetd`): arbitrary bytes split into lines with
//! `parse_inetd`, each line read with `InetdEntry::parse`, the whole file converted as `itox`
//! and `xconv.pl` would, and the converter's output loaded back as xinetd.conf.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xinetd_conf::{
    convert_inetd, load_bytes, merge_inetd_bytes, parse_inetd, ConvertOptions, ConvertStyle,
    Environment, InetdEntry, LoadOptions,
};

fuzz_target!(|data: &[u8]| {
    let lines = parse_inetd(data, "inetd.conf");
    for line in &lines {
        assert!(
            !line.fields.is_empty(),
            "a blank line was kept: {:?}",
            line.text
        );
        if let Ok(entry) = InetdEntry::parse(line) {
            let _ = entry.id();
            let _ = entry.is_rpc();
        } else {
            // Every rejected line can be explained with a span.
            let e = InetdEntry::parse(line).expect_err("parsed once, fails again");
            let _ = e.to_diagnostic("inetd.conf");
        }
    }
    let env = Environment::isolated();
    let options = LoadOptions::new();
    if let Ok(mut loaded) = load_bytes(b"", "xinetd.conf", &env, &options) {
        let _ = merge_inetd_bytes(&mut loaded, data, "inetd.conf", &env);
    }
    for style in [ConvertStyle::Itox, ConvertStyle::Xconv] {
        for dir in [None, Some("/usr/sbin/".to_string())] {
            let conv = convert_inetd(
                data,
                "inetd.conf",
                &ConvertOptions::new().style(style).daemon_dir(dir),
            );
            // The converter's text is xinetd.conf syntax: it must at least parse (it may
            // fail validation in an isolated environment without users or services).
            let _ = load_bytes(conv.text.as_bytes(), "converted.conf", &env, &options);
            let _ = xinetd_conf::parse_document(conv.text.as_bytes(), "converted.conf");
        }
    }
});
