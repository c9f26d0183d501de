//! `TestEnv`: an in-process emulator on 127.0.0.1:0 and a client pointed at it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use iotplan::emulator::seed::new_product;
use iotplan::emulator::{
    self, Config, DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, Emulator, Running,
};
use iotplan::platform::{Client, ClientConfig, Credentials};
use iotplan::secret::Secret;
use iotplan::wire::sign;

pub(crate) struct TestEnv {
    pub(crate) running: Running,
}

pub(crate) fn demo_credentials() -> Credentials {
    Credentials {
        access_key_id: DEMO_ACCESS_KEY_ID.to_owned(),
        access_key_secret: Secret::new(DEMO_ACCESS_KEY_SECRET),
        security_token: None,
    }
}

pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl TestEnv {
    pub(crate) async fn start(config: Config) -> Self {
        let emulator = Emulator::new(config).expect("emulator starts");
        let running = emulator::serve(emulator).await.expect("emulator serves");
        Self { running }
    }

    /// No throttling, no delays.
    pub(crate) async fn fast() -> Self {
        Self::start(Config {
            qps_scale: 0.0,
            ..Config::default()
        })
        .await
    }

    pub(crate) fn with_products(self, keys: &[&str]) -> Self {
        self.running.emulator.with_store(|store| {
            for key in keys {
                store.add_product(new_product(key, None, None, now_ms()));
            }
        });
        self
    }

    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new(self.running.endpoint(), demo_credentials());
        config.min_backoff = Duration::from_millis(5);
        config.max_backoff = Duration::from_millis(200);
        config.qps_scale = 100.0;
        config
    }

    pub(crate) fn client(&self) -> Client {
        Client::new(self.client_config()).expect("client")
    }
}

/// Runs the binary in `dir` against the environment's emulator with the demo key.
pub(crate) async fn iotplan(env: &TestEnv, dir: &Path, args: &[&str]) -> Output {
    let endpoint = env.running.endpoint();
    let dir = dir.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        assert_cmd::Command::cargo_bin("iotplan")
            .expect("binary")
            .current_dir(dir)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", DEMO_ACCESS_KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", DEMO_ACCESS_KEY_SECRET)
            .env("ALIBABA_CLOUD_REGION_ID", "cn-shanghai")
            .env("IOTPLAN_ENDPOINT", endpoint)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .args(args)
            .output()
            .expect("runs")
    })
    .await
    .expect("joined")
}

/// Lossy UTF-8 of an output stream.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A temporary folder holding `files` (relative path, content).
pub(crate) fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    for (name, body) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(path, body).expect("write");
    }
    dir
}

/// The binary as a plain process in `dir`, with the demo key and the environment's emulator
/// (for tests that kill or interrupt it).
pub(crate) fn demo_command(env: &TestEnv, dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_iotplan"));
    command
        .current_dir(dir)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", DEMO_ACCESS_KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", DEMO_ACCESS_KEY_SECRET)
        .env("ALIBABA_CLOUD_REGION_ID", "cn-shanghai")
        .env("IOTPLAN_ENDPOINT", env.running.endpoint())
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null());
    command
}

/// DeviceName → DeviceSecret as a secrets file holds them (empty when there is no file).
pub(crate) fn written_secrets(path: &Path) -> std::collections::BTreeMap<String, String> {
    let Ok(bytes) = std::fs::read(path) else {
        return std::collections::BTreeMap::new();
    };
    let secrets: serde_json::Value = serde_json::from_slice(&bytes).expect("a secrets file");
    secrets["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| {
            (
                d["device_name"].as_str().expect("name").to_owned(),
                d["device_secret"].as_str().expect("secret").to_owned(),
            )
        })
        .collect()
}

/// A v1-signed query string of `params` (POST).
pub(crate) fn signed_v1(mut params: BTreeMap<String, String>, secret: &str) -> String {
    let string_to_sign = sign::v1_string_to_sign("POST", &params);
    params.insert(
        "Signature".into(),
        sign::v1_signature(secret, &string_to_sign),
    );
    params
        .iter()
        .map(|(k, v)| format!("{}={}", sign::percent_encode(k), sign::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The common parameters of a v1 request with the demo key.
pub(crate) fn common(action: &str, timestamp: &str, nonce: &str) -> BTreeMap<String, String> {
    [
        ("Action", action),
        ("Version", "2018-01-20"),
        ("Format", "JSON"),
        ("AccessKeyId", DEMO_ACCESS_KEY_ID),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", nonce),
        ("Timestamp", timestamp),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// The current time as a v1 Timestamp.
pub(crate) fn now_stamp() -> String {
    iotplan::wire::time::request_timestamp_now()
}

/// POSTs a raw query (and form body) to the emulator: the status and the JSON answer.
pub(crate) async fn post(
    env: &TestEnv,
    query: &str,
    body: Option<Vec<u8>>,
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().post(format!("{}/?{query}", env.running.endpoint()));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
    }
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// A loopback port nothing listens on.
pub(crate) fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A loopback server that accepts every connection and closes it without answering; it stops
/// with the test's runtime.
pub(crate) async fn hang_up_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    format!("http://{addr}")
}
