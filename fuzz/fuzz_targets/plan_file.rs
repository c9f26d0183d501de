//! Plan files: any bytes either fail to parse or give a plan every renderer can show.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(plan) = serde_json::from_slice::<iotplan::plan::Plan>(data) {
        let _ = iotplan::render::text(&plan, false, false);
        let _ = iotplan::render::text(&plan, true, true);
        let markdown = iotplan::render::markdown(&plan);
        assert!(markdown.chars().count() <= 65_535);
        let _ = iotplan::render::json(&plan);
        let _ = plan.summary();
    }
});
