//! Drift: what changed on the platform outside the repo. Pure: built from the same diff as the
//! plan, read with every device of each product enumerated, and classified per finding:
//!
//! - **changed**: a declared device whose managed fields differ (declared vs observed, field by
//!   field: `nickname`, `enabled`, `tags.<key>`);
//! - **missing**: declared, not on the platform (deleted outside the repo, or never applied);
//! - **unmanaged**: on the platform, declared by no manifest.
//!
//! Ignore rules (`product=`, `device=`, `field=`, `kind=`, globs) drop findings meant to drift;
//! what they drop is counted, never hidden. A report that could not read every product is
//! incomplete, and is never reported as in sync.

use std::fmt::Write as _;

use serde::Serialize;

use crate::model::ProductSpec;
use crate::plan::ProductPlan;
use crate::render::compressed_names;

/// The drift report's format version (JSON `format_version`).
pub const FORMAT_VERSION: u32 = 1;

/// The first line of the markdown report: a workflow finds its issue or comment by it.
pub const MARKDOWN_MARKER: &str = "<!-- iotplan-drift -->";

/// The longest markdown report (GitHub's issue and comment limit is 65,536 characters).
pub const MARKDOWN_LIMIT: usize = 60_000;

/// The ignore file read from the current folder when it exists.
pub const DEFAULT_IGNORE_FILE: &str = ".iotplan-drift-ignore";

/// A finding's category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A declared device whose fields differ.
    Changed,
    /// Declared, not on the platform.
    Missing,
    /// On the platform, declared nowhere.
    Unmanaged,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDrift {
    /// `nickname`, `enabled` or `tags.<key>`.
    pub field: String,
    /// What the manifest says (`None`: absent).
    pub declared: Option<String>,
    /// What the platform has (`None`: absent).
    pub observed: Option<String>,
}

/// A declared device that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    /// The DeviceName.
    pub device: String,
    /// The fields that differ.
    pub fields: Vec<FieldDrift>,
}

/// A device no manifest declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmanaged {
    /// The DeviceName.
    pub device: String,
    /// Tagged `iotplan.protect`: even prune keeps it.
    pub protected: bool,
}

/// One product's drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductDrift {
    /// The ProductKey.
    pub product_key: String,
    /// Whether the manifests prune it (apply would delete its unmanaged devices).
    pub prune: bool,
    /// Devices the manifests declare.
    pub declared: usize,
    /// Devices on the platform that were read.
    pub observed: usize,
    /// Whether every device was listed, so that unmanaged ones could be found; when not, why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmanaged_not_checked: Option<String>,
    /// Declared devices that differ.
    pub changed: Vec<Changed>,
    /// Declared devices not on the platform.
    pub missing: Vec<String>,
    /// Devices no manifest declares.
    pub unmanaged: Vec<Unmanaged>,
}

impl ProductDrift {
    /// How many findings it has.
    #[must_use]
    pub fn findings(&self) -> usize {
        self.changed.len() + self.missing.len() + self.unmanaged.len()
    }
}

/// A product that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The ProductKey.
    pub product_key: String,
    /// Why.
    pub reason: String,
}

/// What was checked: the report's denominator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// Products read.
    pub products: usize,
    /// Devices declared in them.
    pub declared_devices: usize,
    /// Devices found on the platform in them.
    pub observed_devices: usize,
}

/// A drift report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// No finding, and everything was read.
    pub in_sync: bool,
    /// Every declared product was read, every device of each listed.
    pub complete: bool,
    /// The denominator.
    pub checked: Checked,
    /// Products that could not be read.
    pub skipped: Vec<Skipped>,
    /// Findings the ignore rules dropped.
    pub ignored: usize,
    /// The ignore rules in force, as written.
    pub rules: Vec<String>,
    /// Per product, in ProductKey order (only those with findings or a caveat).
    pub products: Vec<ProductDrift>,
    /// Which credentials source signed the reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_in: Option<crate::platform::credentials::SignedIn>,
}

impl Report {
    /// Findings after the ignore rules.
    #[must_use]
    pub fn findings(&self) -> usize {
        self.products.iter().map(ProductDrift::findings).sum()
    }
}

/// Why an ignore rule cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: ignore rule `{rule}`: {reason}")]
pub struct RuleError {
    /// Where the rule was written (`--ignore`, `FILE:LINE`).
    pub origin: String,
    /// The rule.
    pub rule: String,
    /// What is wrong.
    pub reason: String,
}

/// An ignore rule: comma-separated `key=glob` pairs, all of which must match.
///
/// - `product=a1B2*` and `device=lab-*` pick devices;
/// - `field=tags.firmware` (or `nickname`, `enabled`, `tags.*`) drops only those changed fields;
/// - `kind=changed|missing|unmanaged` drops whole findings of that kind.
///
/// E.g. `field=tags.last_seen`, `device=test-*,kind=unmanaged`, `product=a1Lab*`.
#[derive(Debug, Clone)]
pub struct Rule {
    text: String,
    product: Option<glob::Pattern>,
    device: Option<glob::Pattern>,
    field: Option<glob::Pattern>,
    kind: Option<Kind>,
}

impl Rule {
    /// Parses one rule.
    ///
    /// # Errors
    /// `RuleError` saying what is wrong, where the rule came from.
    pub fn parse(text: &str, origin: &str) -> Result<Self, RuleError> {
        let error = |reason: String| RuleError {
            origin: origin.to_owned(),
            rule: text.to_owned(),
            reason,
        };
        let mut rule = Rule {
            text: text.trim().to_owned(),
            product: None,
            device: None,
            field: None,
            kind: None,
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                error(format!(
                    "`{part}` is not key=value; keys are product, device, field and kind"
                ))
            })?;
            let (key, value) = (key.trim(), value.trim());
            let pattern = || {
                glob::Pattern::new(value)
                    .map_err(|e| error(format!("`{value}` is not a glob pattern: {e}")))
            };
            let slot = match key {
                "product" => &mut rule.product,
                "device" => &mut rule.device,
                "field" => &mut rule.field,
                "kind" => {
                    rule.kind = Some(match value {
                        "changed" => Kind::Changed,
                        "missing" => Kind::Missing,
                        "unmanaged" => Kind::Unmanaged,
                        other => {
                            return Err(error(format!(
                                "kind `{other}` is none of changed, missing, unmanaged"
                            )));
                        }
                    });
                    continue;
                }
                other => {
                    return Err(error(format!(
                        "unknown key `{other}`; keys are product, device, field and kind"
                    )));
                }
            };
            if slot.is_some() {
                return Err(error(format!("`{key}` is given twice")));
            }
            *slot = Some(pattern()?);
        }
        if rule.product.is_none()
            && rule.device.is_none()
            && rule.field.is_none()
            && rule.kind.is_none()
        {
            return Err(error("it is empty: it would ignore everything".to_owned()));
        }
        if rule.field.is_some() && matches!(rule.kind, Some(Kind::Missing | Kind::Unmanaged)) {
            return Err(error(
                "`field` applies to changed devices only; drop it or use kind=changed".to_owned(),
            ));
        }
        Ok(rule)
    }

    /// Parses an ignore file: one rule per line, `#` comments, blank lines skipped.
    ///
    /// # Errors
    /// The first bad rule, with `FILE:LINE`.
    pub fn parse_file(text: &str, file: &str) -> Result<Vec<Self>, RuleError> {
        text.lines()
            .enumerate()
            .map(|(n, line)| (n + 1, line.split('#').next().unwrap_or_default().trim()))
            .filter(|(_, line)| !line.is_empty())
            .map(|(n, line)| Rule::parse(line, &format!("{file}:{n}")))
            .collect()
    }

    /// The rule as written.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    fn picks(&self, product: &str, device: &str) -> bool {
        self.product.as_ref().is_none_or(|p| p.matches(product))
            && self.device.as_ref().is_none_or(|p| p.matches(device))
    }

    fn drops(&self, kind: Kind, product: &str, device: &str, field: Option<&str>) -> bool {
        if !self.picks(product, device) || self.kind.is_some_and(|k| k != kind) {
            return false;
        }
        match (&self.field, field) {
            (None, _) => true,
            (Some(pattern), Some(field)) => pattern.matches(field),
            (Some(_), None) => false,
        }
    }
}

fn ignored_by(
    rules: &[Rule],
    kind: Kind,
    product: &str,
    device: &str,
    field: Option<&str>,
) -> bool {
    rules
        .iter()
        .any(|rule| rule.drops(kind, product, device, field))
}

/// The drift of one product, from a plan made with every device listed (`prune` on for the
/// read) — or, when the product could not be listed whole, with only its declared devices read
/// (`unmanaged_not_checked` says why). Returns the drift and how many findings rules dropped.
#[must_use]
pub fn product_drift(
    spec: &ProductSpec,
    plan: &ProductPlan,
    unmanaged_not_checked: Option<String>,
    rules: &[Rule],
) -> (ProductDrift, usize) {
    let key = spec.product_key.as_str();
    let mut ignored = 0;
    let mut changed = Vec::new();
    for update in &plan.update {
        let mut fields = Vec::new();
        if let Some(change) = &update.nickname {
            fields.push(FieldDrift {
                field: "nickname".to_owned(),
                declared: change.to.clone(),
                observed: change.from.clone(),
            });
        }
        if let Some(change) = &update.enabled {
            fields.push(FieldDrift {
                field: "enabled".to_owned(),
                declared: Some(change.to.to_string()),
                observed: Some(change.from.to_string()),
            });
        }
        if let Some(tags) = &update.tags {
            for (tag, value) in &tags.set {
                fields.push(FieldDrift {
                    field: format!("tags.{tag}"),
                    declared: Some(value.clone()),
                    observed: tags.before.get(tag).cloned(),
                });
            }
            for tag in &tags.remove {
                fields.push(FieldDrift {
                    field: format!("tags.{tag}"),
                    declared: None,
                    observed: tags.before.get(tag).cloned(),
                });
            }
        }
        let before = fields.len();
        fields.retain(|f| !ignored_by(rules, Kind::Changed, key, &update.name, Some(&f.field)));
        ignored += before - fields.len();
        if !fields.is_empty() {
            changed.push(Changed {
                device: update.name.clone(),
                fields,
            });
        }
    }
    let mut keep = |kind: Kind, device: &str| {
        let drop = ignored_by(rules, kind, key, device, None);
        ignored += usize::from(drop);
        !drop
    };
    let missing: Vec<String> = plan
        .register
        .iter()
        .map(|r| r.name.clone())
        .filter(|name| keep(Kind::Missing, name))
        .collect();
    let mut unmanaged: Vec<Unmanaged> = plan
        .delete
        .iter()
        .map(|d| Unmanaged {
            device: d.name.clone(),
            protected: false,
        })
        .chain(plan.protected.iter().map(|name| Unmanaged {
            device: name.clone(),
            protected: true,
        }))
        .filter(|u| keep(Kind::Unmanaged, &u.device))
        .collect();
    unmanaged.sort_by(|a, b| a.device.cmp(&b.device));
    (
        ProductDrift {
            product_key: spec.product_key.clone(),
            prune: spec.prune,
            declared: spec.devices.len(),
            observed: plan.live_devices,
            unmanaged_not_checked,
            changed,
            missing,
            unmanaged,
        },
        ignored,
    )
}

/// Assembles the report.
#[must_use]
pub fn report(
    products: Vec<(ProductDrift, usize)>,
    skipped: Vec<Skipped>,
    rules: &[Rule],
) -> Report {
    let checked = Checked {
        products: products.len(),
        declared_devices: products.iter().map(|(p, _)| p.declared).sum(),
        observed_devices: products.iter().map(|(p, _)| p.observed).sum(),
    };
    let ignored = products.iter().map(|(_, n)| n).sum();
    let complete = skipped.is_empty()
        && products
            .iter()
            .all(|(p, _)| p.unmanaged_not_checked.is_none());
    let products: Vec<ProductDrift> = products
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.findings() > 0 || p.unmanaged_not_checked.is_some())
        .collect();
    let in_sync = complete && products.iter().all(|p| p.findings() == 0);
    Report {
        format_version: FORMAT_VERSION,
        in_sync,
        complete,
        checked,
        skipped,
        ignored,
        rules: rules.iter().map(|r| r.text().to_owned()).collect(),
        products,
        signed_in: None,
    }
}

fn shown(value: Option<&String>) -> String {
    value.map_or_else(
        || "(none)".to_owned(),
        |v| format!("\"{}\"", crate::output::sanitize(v)),
    )
}

fn field_text(field: &FieldDrift) -> String {
    format!(
        "{} declared {}, observed {}",
        field.field,
        shown(field.declared.as_ref()),
        shown(field.observed.as_ref())
    )
}

fn summary(report: &Report) -> String {
    let count = |f: fn(&ProductDrift) -> usize| report.products.iter().map(f).sum::<usize>();
    let mut out = format!(
        "{} changed, {} missing, {} unmanaged. Checked {} product(s): {} declared device(s), {} on the platform",
        count(|p| p.changed.len()),
        count(|p| p.missing.len()),
        count(|p| p.unmanaged.len()),
        report.checked.products,
        report.checked.declared_devices,
        report.checked.observed_devices,
    );
    if report.ignored > 0 {
        let _ = write!(
            out,
            "; {} finding(s) ignored by {} rule(s)",
            report.ignored,
            report.rules.len()
        );
    }
    out.push('.');
    out
}

fn verdict(report: &Report) -> String {
    if report.in_sync {
        "In sync: the platform matches the manifests.".to_owned()
    } else if !report.complete {
        format!(
            "Incomplete: not everything could be read, so this is not a clean bill ({} finding(s) among what was read).",
            report.findings()
        )
    } else {
        format!(
            "Drift: {} finding(s). `iotplan plan` shows what apply would do about them.",
            report.findings()
        )
    }
}

/// Changed devices listed per product at most, in text and markdown (JSON has all).
const LISTED_CHANGES: usize = 200;

/// The text report.
#[must_use]
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for product in &report.products {
        let _ = writeln!(
            out,
            "product {} (prune {}): {} changed, {} missing, {} unmanaged",
            product.product_key,
            if product.prune { "on" } else { "off" },
            product.changed.len(),
            product.missing.len(),
            product.unmanaged.len()
        );
        for changed in product.changed.iter().take(LISTED_CHANGES) {
            let fields: Vec<String> = changed.fields.iter().map(field_text).collect();
            let _ = writeln!(
                out,
                "  ~ {}: {}",
                crate::output::sanitize(&changed.device),
                fields.join("; ")
            );
        }
        if product.changed.len() > LISTED_CHANGES {
            let _ = writeln!(
                out,
                "  ~ … and {} more changed device(s) (--format json lists all)",
                product.changed.len() - LISTED_CHANGES
            );
        }
        if !product.missing.is_empty() {
            let names: Vec<&str> = product.missing.iter().map(String::as_str).collect();
            let _ = writeln!(
                out,
                "  - missing (declared, not on the platform: deleted outside the repo, or not applied yet): {}",
                compressed_names(&names)
            );
        }
        for (protected, label) in [
            (false, "unmanaged (declared by no manifest)"),
            (true, "unmanaged and protected (iotplan.protect)"),
        ] {
            let names: Vec<&str> = product
                .unmanaged
                .iter()
                .filter(|u| u.protected == protected)
                .map(|u| u.device.as_str())
                .collect();
            if !names.is_empty() {
                let _ = writeln!(out, "  ? {label}: {}", compressed_names(&names));
            }
        }
        if let Some(why) = &product.unmanaged_not_checked {
            let _ = writeln!(out, "  ! unmanaged devices not checked: {why}");
        }
    }
    for skipped in &report.skipped {
        let _ = writeln!(
            out,
            "skipped {}: {}",
            skipped.product_key,
            crate::output::sanitize(&skipped.reason)
        );
    }
    let _ = writeln!(out, "{}\n{}", summary(report), verdict(report));
    out
}

/// The JSON report.
#[must_use]
pub fn json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_default();
    text.push('\n');
    text
}

fn md_escape(text: &str) -> String {
    crate::output::sanitize(text)
        .replace('|', "\\|")
        .replace('`', "'")
}

/// The markdown report for an issue or comment: starts with [`MARKDOWN_MARKER`], stays under
/// [`MARKDOWN_LIMIT`] characters at any size.
#[must_use]
pub fn markdown(report: &Report) -> String {
    let mut out = format!("{MARKDOWN_MARKER}\n### iotplan drift: ");
    out.push_str(if report.in_sync {
        "in sync"
    } else if report.complete {
        "drift found"
    } else {
        "incomplete"
    });
    let _ = write!(out, "\n\n{}\n\n{}\n", verdict(report), summary(report));
    let mut truncated = false;
    for product in &report.products {
        let mut section = format!(
            "\n#### `{}` (prune {})\n\n| | device | what |\n|---|---|---|\n",
            product.product_key,
            if product.prune { "on" } else { "off" }
        );
        for changed in &product.changed {
            let fields: Vec<String> = changed.fields.iter().map(field_text).collect();
            let _ = writeln!(
                section,
                "| ~ changed | `{}` | {} |",
                md_escape(&changed.device),
                md_escape(&fields.join("; "))
            );
        }
        if !product.missing.is_empty() {
            let names: Vec<&str> = product.missing.iter().map(String::as_str).collect();
            let _ = writeln!(
                section,
                "| - missing | {} | declared, not on the platform |",
                md_escape(&compressed_names(&names))
            );
        }
        if !product.unmanaged.is_empty() {
            let names: Vec<&str> = product
                .unmanaged
                .iter()
                .map(|u| u.device.as_str())
                .collect();
            let _ = writeln!(
                section,
                "| ? unmanaged | {} | declared by no manifest |",
                md_escape(&compressed_names(&names))
            );
        }
        if let Some(why) = &product.unmanaged_not_checked {
            let _ = writeln!(
                section,
                "\nUnmanaged devices not checked: {}",
                md_escape(why)
            );
        }
        if out.len() + section.len() > MARKDOWN_LIMIT - 2_000 {
            truncated = true;
            break;
        }
        out.push_str(&section);
    }
    if truncated {
        out.push_str("\n_The report is longer than an issue can hold: run `iotplan drift --format json` for every finding._\n");
    }
    if !report.skipped.is_empty() {
        out.push_str("\n#### Not read\n\n");
        for skipped in &report.skipped {
            let line = format!(
                "- `{}`: {}\n",
                skipped.product_key,
                md_escape(&skipped.reason)
            );
            if out.len() + line.len() > MARKDOWN_LIMIT - 200 {
                out.push_str("- … (more products could not be read)\n");
                break;
            }
            out.push_str(&line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeviceSpec, LiveDevice, LiveProduct, Origin};
    use std::collections::BTreeMap;

    fn declared(nickname: Option<&str>, tags: Option<BTreeMap<String, String>>) -> DeviceSpec {
        DeviceSpec {
            nickname: nickname.map(Into::into),
            enabled: true,
            tags: tags.map(std::sync::Arc::new),
            groups: None,
            origin: Origin {
                file: "m.yaml".into(),
                line: 1,
                column: 1,
            },
        }
    }

    fn observed(
        name: &str,
        nickname: Option<&str>,
        enabled: bool,
        tags: BTreeMap<String, String>,
    ) -> LiveDevice {
        LiveDevice {
            iot_id: format!("iot-{name}").into(),
            nickname: nickname.map(Into::into),
            enabled,
            tags: Some(std::sync::Arc::new(tags)),
        }
    }

    /// A declared device: name, nickname, tags.
    type Declared<'a> = (&'a str, Option<&'a str>, &'a [(&'a str, &'a str)]);
    /// An observed device: name, nickname, enabled, tags.
    type Observed<'a> = (&'a str, Option<&'a str>, bool, &'a [(&'a str, &'a str)]);

    fn spec(devices: &[Declared<'_>], prune: bool) -> ProductSpec {
        ProductSpec {
            product_key: "a1Drift".into(),
            product_name: None,
            region: None,
            instance: None,
            prune,
            devices: devices
                .iter()
                .map(|(name, nickname, tags)| {
                    (
                        (*name).to_owned(),
                        declared(
                            *nickname,
                            (!tags.is_empty()).then(|| {
                                tags.iter()
                                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                                    .collect()
                            }),
                        ),
                    )
                })
                .collect(),
        }
    }

    fn live(devices: &[Observed<'_>]) -> LiveProduct {
        let mut product = LiveProduct::default();
        for (name, nickname, enabled, tags) in devices {
            let tags: BTreeMap<String, String> = tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            product.devices.insert(
                (*name).to_owned(),
                observed(name, *nickname, *enabled, tags),
            );
        }
        product
    }

    fn drift_of(spec: &ProductSpec, live: &LiveProduct, rules: &[Rule]) -> (ProductDrift, usize) {
        let read = ProductSpec {
            prune: true,
            ..spec.clone()
        };
        product_drift(spec, &crate::plan::diff(&read, live), None, rules)
    }

    #[test]
    fn each_category_field_by_field() {
        let spec = spec(
            &[
                ("door-01", Some("Front"), &[("fw", "1.2")]),
                ("door-02", None, &[]),
                ("door-03", None, &[]),
            ],
            false,
        );
        let live = live(&[
            (
                "door-01",
                Some("Front door"),
                true,
                &[("fw", "1.3"), ("owner", "bob")],
            ),
            ("door-02", None, false, &[]),
            ("lab-7", None, true, &[]),
            ("keep-1", None, true, &[("iotplan.protect", "true")]),
        ]);
        let (drift, ignored) = drift_of(&spec, &live, &[]);
        assert_eq!(ignored, 0);
        assert_eq!(drift.declared, 3);
        assert_eq!(drift.observed, 4);
        assert_eq!(drift.changed.len(), 2);
        let door1 = &drift.changed[0];
        assert_eq!(door1.device, "door-01");
        let fields: Vec<(&str, Option<&str>, Option<&str>)> = door1
            .fields
            .iter()
            .map(|f| {
                (
                    f.field.as_str(),
                    f.declared.as_deref(),
                    f.observed.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            fields,
            vec![
                ("nickname", Some("Front"), Some("Front door")),
                ("tags.fw", Some("1.2"), Some("1.3")),
                ("tags.owner", None, Some("bob")),
            ]
        );
        assert_eq!(
            drift.changed[1].fields,
            vec![FieldDrift {
                field: "enabled".into(),
                declared: Some("true".into()),
                observed: Some("false".into()),
            }]
        );
        assert_eq!(drift.missing, vec!["door-03"]);
        assert_eq!(
            drift.unmanaged,
            vec![
                Unmanaged {
                    device: "keep-1".into(),
                    protected: true
                },
                Unmanaged {
                    device: "lab-7".into(),
                    protected: false
                },
            ]
        );
        let report = report(vec![(drift, ignored)], Vec::new(), &[]);
        assert!(!report.in_sync && report.complete);
        assert_eq!(report.findings(), 5);
        let text = text(&report);
        assert!(
            text.contains("nickname declared \"Front\", observed \"Front door\"")
                && text.contains("tags.owner declared (none), observed \"bob\"")
                && text.contains("missing (declared, not on the platform")
                && text.contains("unmanaged and protected (iotplan.protect): keep-1")
                && text.contains("Checked 1 product(s): 3 declared device(s), 4 on the platform"),
            "{text}"
        );
    }

    #[test]
    fn ignore_rules_drop_findings_and_count_them() {
        let spec = spec(
            &[
                ("door-01", Some("Front"), &[("fw", "1.2")]),
                ("door-03", None, &[]),
            ],
            false,
        );
        let live = live(&[
            ("door-01", Some("Front door"), true, &[("fw", "1.3")]),
            ("test-1", None, true, &[]),
            ("lab-7", None, true, &[]),
        ]);
        let rules = vec![
            Rule::parse("field=tags.*", "--ignore").expect("rule"),
            Rule::parse("device=test-*,kind=unmanaged", "--ignore").expect("rule"),
            Rule::parse("product=a1Other,kind=missing", "--ignore").expect("rule"),
        ];
        let (drift, ignored) = drift_of(&spec, &live, &rules);
        assert_eq!(ignored, 2);
        assert_eq!(drift.changed[0].fields.len(), 1);
        assert_eq!(drift.changed[0].fields[0].field, "nickname");
        assert_eq!(drift.missing, vec!["door-03"]);
        assert_eq!(drift.unmanaged.len(), 1);
        // Ignoring everything a product has leaves it in sync, and says so.
        let rules = vec![Rule::parse("product=a1Drift", "--ignore").expect("rule")];
        let (drift, ignored) = drift_of(&spec, &live, &rules);
        let report = report(vec![(drift, ignored)], Vec::new(), &rules);
        assert!(report.in_sync, "{report:?}");
        assert!(text(&report).contains("5 finding(s) ignored by 1 rule(s)"));
    }

    #[test]
    fn bad_rules_say_where_and_why() {
        for (rule, says) in [
            ("", "empty"),
            ("nickname", "key=value"),
            ("colour=red", "unknown key `colour`"),
            ("kind=gone", "none of changed"),
            ("field=nickname,kind=missing", "changed devices only"),
            ("device=[", "not a glob"),
            ("device=a,device=b", "twice"),
        ] {
            let error = Rule::parse(rule, "--ignore").expect_err(rule);
            assert!(error.to_string().contains(says), "{rule}: {error}");
        }
        let error = Rule::parse_file(
            "# drift we expect\nfield=tags.seen\n\nbogus\n",
            ".iotplan-drift-ignore",
        )
        .expect_err("line 4");
        assert!(
            error.to_string().starts_with(".iotplan-drift-ignore:4:"),
            "{error}"
        );
    }

    #[test]
    fn a_partial_read_is_never_in_sync_and_markdown_fits_an_issue() {
        let spec = spec(&[("door-01", None, &[])], false);
        let (drift, ignored) = drift_of(&spec, &live(&[("door-01", None, true, &[])]), &[]);
        let partial = report(
            vec![(drift, ignored)],
            vec![Skipped {
                product_key: "a1Gone".into(),
                reason: "QueryProduct failed".into(),
            }],
            &[],
        );
        assert!(!partial.in_sync && !partial.complete);
        assert!(text(&partial).contains("Incomplete"));
        let md = markdown(&partial);
        assert!(
            md.starts_with(MARKDOWN_MARKER) && md.contains("incomplete") && md.contains("a1Gone")
        );
        // A huge drift still fits.
        let spec = ProductSpec {
            devices: (0..30_000)
                .map(|n| {
                    (
                        format!("dev-{n:05}-x{}", n % 7),
                        declared(Some(&format!("N{n}")), None),
                    )
                })
                .collect(),
            ..spec
        };
        let mut live_product = LiveProduct::default();
        for name in spec.devices.keys() {
            live_product.devices.insert(
                name.clone(),
                observed(name, Some("Other"), true, BTreeMap::new()),
            );
        }
        let (drift, ignored) = drift_of(&spec, &live_product, &[]);
        let big = report(vec![(drift, ignored)], Vec::new(), &[]);
        let md = markdown(&big);
        assert!(md.len() <= MARKDOWN_LIMIT, "{}", md.len());
        assert!(md.contains("longer than an issue can hold"));
        assert!(text(&big).contains("and 29800 more changed device(s)"));
    }
}
