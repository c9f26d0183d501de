//! Manifest loading and validation: any text is either a desired state or diagnostics that
//! render, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match iotplan::manifest::load_str("fuzz.yaml", &text) {
        Ok(desired) => {
            for product in desired.products.values() {
                let plan = iotplan::plan::diff(product, &iotplan::model::LiveProduct::default());
                assert_eq!(plan.register.len(), product.devices.len());
            }
        }
        Err(error) => {
            assert!(!error.diagnostics.is_empty());
            let _ = error.to_string();
        }
    }
});
