//! Manifest loading and validation: any text is either a desired state or diagnostics that
//! render, never a panic; and the plain-YAML reader never reads a text differently from
//! serde-saphyr.
#![no_main]

use iotplan::manifest::reader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(fast) = reader::plain(&text) {
        match reader::exact(&text) {
            Ok(slow) => assert_eq!(fast, slow, "the readers disagree on {text:?}"),
            Err(error) => panic!("plain read what serde-saphyr refuses ({error}): {text:?}"),
        }
    }
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
