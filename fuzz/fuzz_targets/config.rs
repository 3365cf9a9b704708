//! `Config::parse` reads an operator's TOML file: any text, however broken, must come back as
//! `Ok` or as a list of problems, never a panic (a panic at start-up hides the line at fault).

#![no_main]

use libfuzzer_sys::fuzz_target;
use omnigate::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = Config::parse(text, "fuzz") {
        assert!(
            !error.problems.is_empty(),
            "Config::parse failed without naming a problem"
        );
        // The error is printed at start-up; rendering it must not panic either.
        let rendered = error.to_string();
        assert!(rendered.starts_with("fuzz: "), "{rendered}");
    }
});
