//! The emulator's request path: decoding, signature check and every handler. The first byte
//! picks the mode: raw bytes as query and body, or the rest read as `key=value` lines that are
//! then signed with the demo key, so that inputs reach the handlers past the signature check.
#![no_main]

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Request;
use iotplan::emulator::{Config, DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, Emulator};
use iotplan::wire::sign;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

fn emulator() -> &'static Arc<Emulator> {
    static EMULATOR: OnceLock<Arc<Emulator>> = OnceLock::new();
    EMULATOR.get_or_init(|| {
        let emulator = Emulator::new(Config {
            qps_scale: 0.0,
            ..Config::default()
        })
        .expect("emulator");
        emulator.with_store(|store| {
            let now = jiff::Timestamp::now().as_millisecond();
            store.instances.insert("iot-fuzz01".into());
            store.add_product(iotplan::emulator::seed::new_product(
                "a1Fuzz", None, None, now,
            ));
            store.add_product(iotplan::emulator::seed::new_product(
                "a1FuzzEnt",
                None,
                Some("iot-fuzz01".into()),
                now,
            ));
            for n in 0..20 {
                store.create_device("a1Fuzz", &format!("dev-{n:03}"), None, now);
                store.create_device("a1FuzzEnt", &format!("ent-{n:03}"), None, now);
            }
        });
        emulator
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn signed(lines: &str, nonce: u64) -> String {
    let mut params: BTreeMap<String, String> = [
        ("Version", "2018-01-20"),
        ("Format", "JSON"),
        ("AccessKeyId", DEMO_ACCESS_KEY_ID),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    params.insert("SignatureNonce".into(), format!("fuzz-{nonce}"));
    params.insert(
        "Timestamp".into(),
        jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    );
    for line in lines.lines() {
        if let Some((key, value)) = line.split_once('=') {
            params.insert(key.to_owned(), value.to_owned());
        }
    }
    let string_to_sign = sign::v1_string_to_sign("POST", &params);
    params.insert(
        "Signature".into(),
        sign::v1_signature(DEMO_ACCESS_KEY_SECRET, &string_to_sign),
    );
    params
        .iter()
        .map(|(k, v)| format!("{}={}", sign::percent_encode(k), sign::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fuzz_target!(|data: &[u8]| {
    static NONCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (uri, body) = if mode % 2 == 0 {
        let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        let query: String = String::from_utf8_lossy(&rest[..split])
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .collect();
        (
            format!("/?{query}"),
            rest.get(split + 1..).unwrap_or_default().to_vec(),
        )
    } else {
        let nonce = NONCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (
            String::from("/"),
            signed(&String::from_utf8_lossy(rest), nonce).into_bytes(),
        )
    };
    let Ok(request) = Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
    else {
        return;
    };
    let router = iotplan::emulator::router(emulator().clone());
    let response = runtime()
        .block_on(router.oneshot(request))
        .expect("infallible");
    // An internal error is a bug: every refusal has its own code.
    assert_ne!(response.status().as_u16(), 500, "internal error");
});
