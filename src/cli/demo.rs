//! `iotplan demo`: the main job against an embedded emulator, with no credentials and no network.

use std::path::PathBuf;

use clap::Args;

use crate::emulator::{self, Config, DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, Emulator};
use crate::exit::ExitStatus;
use crate::output::{Printer, sanitize};
use crate::platform::paging::list_devices;
use crate::platform::{Client, ClientConfig, Credentials};
use crate::secret::Secret;
use crate::wire::ops::{CreateProduct, QueryProductList};

/// Options of `iotplan demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the embedded emulator keeps its state between runs.
    #[arg(long)]
    pub state: Option<PathBuf>,
}

/// Starts an embedded emulator and talks to it through the real, signed client.
///
/// # Errors
/// Any failure of the emulator or the calls.
pub(super) async fn run(
    args: DemoArgs,
    _global: &super::GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let state = args.state.unwrap_or_else(super::default_demo_state);
    super::ensure_parent(&state)?;
    let emulator = Emulator::new(Config {
        state_file: Some(state.clone()),
        ..Config::default()
    })?;
    let running = emulator::serve(emulator).await?;
    printer.status(&format!(
        "embedded emulator on {} (state in {})",
        running.endpoint(),
        state.display()
    ));
    let client = Client::new(ClientConfig::new(
        running.endpoint(),
        Credentials {
            access_key_id: DEMO_ACCESS_KEY_ID.to_owned(),
            access_key_secret: Secret::new(DEMO_ACCESS_KEY_SECRET),
            security_token: None,
        },
    ))?;
    let products = client
        .call(&QueryProductList {
            current_page: 1,
            page_size: 200,
            aliyun_commodity_code: None,
        })
        .await?;
    if products.data.total == 0 {
        let created = client
            .call(&CreateProduct {
                product_name: "iotplan_demo".to_owned(),
                node_type: 0,
                ..CreateProduct::default()
            })
            .await?;
        printer.status(&format!("created product {}", created.product_key));
    }
    let products = client
        .call(&QueryProductList {
            current_page: 1,
            page_size: 200,
            aliyun_commodity_code: None,
        })
        .await?;
    for product in &products.data.list.products {
        let devices = list_devices(&client, &product.product_key, |_, _| {}).await?;
        printer.out(&format!(
            "{}  {}  {} device(s)\n",
            sanitize(&product.product_key),
            sanitize(&product.product_name),
            devices.len()
        ));
    }
    running.stop().await?;
    Ok(ExitStatus::Success)
}
