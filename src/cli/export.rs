//! `iotplan export`: write v1 manifests of what the platform has now, to bring an existing fleet
//! under management: each product as a `Product` document and a `DeviceSet`, every device group
//! as a `DeviceGroup` document, and membership on the device entries. Planning the exported files
//! shows no changes.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::exit::ExitStatus;
use crate::export::{self, Target};
use crate::output::Printer;
use crate::output::progress::Progress;
use crate::platform::fleet::{FleetErrors, read_for_export};
use crate::platform::live::read_devices;

/// Summary formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Status lines on stderr.
    Text,
    /// The export summary document (`format_version` 1) on stdout.
    Json,
}

/// Options of `iotplan export`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  iotplan export --product a1BwAGV8aWs --region cn-shanghai > manifests/meters.yaml\n  iotplan export --product a1BwAGV8aWs --product a1OfficeLite --out manifests/"
)]
pub struct ExportArgs {
    /// The ProductKey (repeat for several products).
    #[arg(long, required = true)]
    pub product: Vec<String>,
    /// IotInstanceId of an enterprise instance (written into the manifests).
    #[arg(long)]
    pub instance: Option<String>,
    /// A file (`.yaml`/`.yml`, one product, groups included) or a folder (one
    /// `<ProductKey>.yaml` each, and `groups.yaml`); without it the manifests go to stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overwrite files that exist.
    #[arg(long)]
    pub force: bool,
    /// Leave tags out (faster: no tag read per device); exported devices then leave tags unmanaged.
    #[arg(long)]
    pub no_tags: bool,
    /// Leave device groups and membership out (faster: no group or member reads).
    #[arg(long)]
    pub no_groups: bool,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Text)]
    pub format: ExportFormat,
}

/// One product's line of the summary.
#[derive(Debug, Serialize)]
struct ProductSummary {
    product_key: String,
    file: Option<String>,
    devices: usize,
    entries: usize,
    unmanaged: Vec<String>,
}

/// The groups' line of the summary.
#[derive(Debug, Serialize)]
struct GroupsSummary {
    file: Option<String>,
    groups: usize,
    unmanaged: Vec<String>,
}

/// `--format json`.
#[derive(Debug, Serialize)]
struct Summary {
    format_version: u32,
    products: Vec<ProductSummary>,
    /// Absent with `--no-groups`.
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<GroupsSummary>,
}

/// Where the manifests go: per product, and the groups' documents; `None` for stdout.
struct Destinations {
    products: Vec<Option<PathBuf>>,
    groups: Option<PathBuf>,
}

/// The file the groups' documents go to in an `--out` folder.
const GROUPS_FILE: &str = "groups.yaml";

/// Where each product's manifest goes, and the groups' documents.
fn destinations(args: &ExportArgs) -> anyhow::Result<Destinations> {
    let Some(out) = &args.out else {
        return Ok(Destinations {
            products: vec![None; args.product.len()],
            groups: None,
        });
    };
    let is_file = out.extension().is_some_and(|e| e == "yaml" || e == "yml") && !out.is_dir();
    if is_file && args.product.len() > 1 {
        bail!(
            "--out {} is one file but {} products were asked for\nhint: give a folder, e.g. --out manifests/",
            out.display(),
            args.product.len()
        );
    }
    let mut paths: Vec<PathBuf> = if is_file {
        vec![out.clone()]
    } else {
        args.product
            .iter()
            .map(|key| out.join(format!("{key}.yaml")))
            .collect()
    };
    let groups = (!is_file && !args.no_groups).then(|| out.join(GROUPS_FILE));
    if let Some(groups) = &groups
        && paths.contains(groups)
    {
        bail!(
            "a product's manifest and the groups' would both be {}\nhint: pass --no-groups, or export that product on its own with --out FILE",
            groups.display()
        );
    }
    paths.extend(groups.clone());
    if !args.force
        && let Some(existing) = paths.iter().find(|p| p.exists())
    {
        bail!(
            "{} exists; nothing was exported\nhint: pass --force to overwrite it, or choose another --out",
            existing.display()
        );
    }
    if groups.is_some() {
        paths.pop();
    }
    Ok(Destinations {
        products: paths.into_iter().map(Some).collect(),
        groups,
    })
}

fn header(key: &str, devices: usize) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# Exported by iotplan export from product {key} ({devices} device(s)); prune is off: review before turning it on."
    );
    text
}

fn groups_header(count: usize) -> String {
    format!(
        "# Exported by iotplan export: {count} device group(s); membership is on the device entries; prune is off: review before turning it on.\n"
    )
}

/// Appends YAML documents to `text`, `---` between them.
fn join_documents(text: &mut String, documents: &str) {
    if documents.is_empty() {
        return;
    }
    if !text.is_empty() {
        text.push_str("---\n");
    }
    text.push_str(documents);
}

/// Writes one exported file and says so.
fn write_file(
    path: &std::path::Path,
    text: &str,
    printer: &Printer,
    what: &str,
) -> anyhow::Result<()> {
    super::ensure_parent(path)?;
    crate::fsutil::write_atomically(path, text.as_bytes(), Some(0o644))
        .with_context(|| format!("cannot write {}", path.display()))?;
    printer.status(&format!("{what} written to {}", path.display()));
    Ok(())
}

/// Reads each product (and the groups) and writes the manifests; nothing is written unless
/// every manifest was read and validates.
///
/// # Errors
/// Credentials, region, an unknown product, any API failure, or an unwritable file.
pub(super) async fn run(
    args: ExportArgs,
    global: &super::GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    if args.format == ExportFormat::Json && args.out.is_none() {
        bail!(
            "--format json prints the summary on stdout, so the manifests need --out FILE or --out DIR"
        );
    }
    let destinations = destinations(&args)?;
    let client = global.client(None)?.with_instance(args.instance.clone());
    let include_tags = !args.no_tags;
    let fleet = read_for_export(&client, &args.product, include_tags, !args.no_groups)
        .await
        .map_err(|error| anyhow::anyhow!(FleetErrors(vec![error])))?;
    let groups = export::groups_documents(
        global.region.as_deref(),
        args.instance.as_deref(),
        &fleet.groups,
    )
    .context("cannot write the device groups")?;
    let progress = Progress::new(printer);
    let report = |product: &str, read: usize, total: usize| {
        progress.update(&format!("{product} reading devices"), read, total);
    };
    let mut files: Vec<(Option<PathBuf>, String, String)> = Vec::new();
    let mut summary = Summary {
        format_version: 1,
        products: Vec::new(),
        groups: (!args.no_groups).then(|| GroupsSummary {
            file: destinations
                .groups
                .as_ref()
                .filter(|_| !groups.names.is_empty())
                .map(|p| p.display().to_string()),
            groups: groups.names.len(),
            unmanaged: groups.unmanaged.clone(),
        }),
    };
    let single_file = destinations.groups.is_none() && args.out.is_some();
    for ((key, destination), product) in args
        .product
        .iter()
        .zip(destinations.products)
        .zip(&fleet.products)
    {
        let live = read_devices(&client, key, &|_| include_tags, &report)
            .await
            .map_err(|error| anyhow::anyhow!(crate::platform::live::ReadErrors(vec![error])))?;
        progress.finish(
            &format!("{key} reading devices"),
            &format!("{} device(s) read", live.devices.len()),
        );
        let target = Target {
            product_key: key.clone(),
            region: global.region.clone(),
            instance: args.instance.clone(),
        };
        let mut unmanaged = Vec::new();
        let product_text = export::product_document(&target, product, &mut unmanaged)
            .with_context(|| format!("cannot write the product document of {key}"))?;
        let of_device = export::memberships(key, &fleet.groups, &groups.names);
        let exported = export::manifest(&target, &live, &of_device)
            .with_context(|| format!("cannot write the manifest of {key}"))?;
        unmanaged.extend(exported.unmanaged);
        let mut documents = String::new();
        if single_file {
            join_documents(&mut documents, &groups.text);
        }
        join_documents(&mut documents, product_text.as_deref().unwrap_or_default());
        join_documents(&mut documents, &exported.text);
        let text = header(key, exported.devices) + &documents;
        let what = format!(
            "{key}: {} device(s) in {} entr{}",
            exported.devices,
            exported.entries,
            if exported.entries == 1 { "y" } else { "ies" },
        );
        files.push((destination.clone(), text, what));
        summary.products.push(ProductSummary {
            product_key: key.clone(),
            file: destination.map(|p| p.display().to_string()),
            devices: exported.devices,
            entries: exported.entries,
            unmanaged,
        });
    }
    if !groups.names.is_empty() && !single_file {
        files.insert(
            0,
            (
                destinations.groups.clone(),
                groups_header(groups.names.len()) + &groups.text,
                format!("{} device group(s)", groups.names.len()),
            ),
        );
    }
    // The manifests must load together as written: a check against exporting what validate
    // refuses (an undeclared group, a parent left out).
    let all: String = files
        .iter()
        .map(|(_, text, _)| text.as_str())
        .collect::<Vec<_>>()
        .join("---\n");
    crate::manifest::load_str("export", &all).map_err(|e| {
        anyhow::anyhow!("the exported manifests do not validate; this is a bug in iotplan:\n{e}")
    })?;
    let mut stdout = String::new();
    for (destination, text, what) in &files {
        match destination {
            Some(path) => write_file(path, text, printer, what)?,
            None => join_documents(&mut stdout, text),
        }
    }
    let unmanaged = summary
        .groups
        .iter()
        .flat_map(|g| &g.unmanaged)
        .chain(summary.products.iter().flat_map(|p| &p.unmanaged));
    for line in unmanaged {
        printer.err_line(&format!("warning: {}", crate::output::sanitize(line)));
    }
    match args.format {
        ExportFormat::Text => printer.out(&stdout),
        ExportFormat::Json => {
            printer.out(&format!("{}\n", serde_json::to_string_pretty(&summary)?));
        }
    }
    Ok(ExitStatus::Success)
}
