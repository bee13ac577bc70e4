//! Fuzz target: a user's TOML scenario file (`mqtt-ids simulate --scenario FILE`). Parsing and
//! validation must never panic; a scenario that validates must survive a round trip through
//! `to_toml`, and a short run of it (0.2 s of simulated time, a tenth of the traffic) must not
//! panic either. Seeds: the built-in scenarios as `--print-scenario` writes them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ids_simulate::{Scenario, SimOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenario) = Scenario::from_toml(text) else {
        return;
    };
    let again = Scenario::from_toml(&scenario.to_toml()).expect("to_toml output parses");
    assert_eq!(
        again.to_toml(),
        scenario.to_toml(),
        "round trip changed the scenario"
    );
    let dir = std::env::temp_dir().join(format!("mqtt-ids-fuzz-scenario-{}", std::process::id()));
    let options = SimOptions {
        duration: Some(0.2),
        scale: 0.1,
        ..SimOptions::default()
    };
    // Errors (an output that cannot be written, …) are fine; panics are not.
    let _ = mqtt_ids_simulate::simulate(&scenario, &options, &dir);
    let _ = std::fs::remove_dir_all(&dir);
});
