//! `TestEnv`: an in-process emulator on 127.0.0.1:0 and a client pointed at it.

use std::time::Duration;

use iotplan::emulator::seed::new_product;
use iotplan::emulator::{
    self, Config, DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, Emulator, Running,
};
use iotplan::platform::{Client, ClientConfig, Credentials};
use iotplan::secret::Secret;

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
