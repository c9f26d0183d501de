//! The Terraform-like text plan: `+ ~ -` lines per device, field changes old → new (with the
//! changed part of a nickname marked), a summary per product and in total.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use similar::{ChangeTag, TextDiff};

use super::runs;
use crate::output::sanitize;
use crate::plan::{Plan, ProductPlan, Summary, Update};

/// What a line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A product header.
    Header,
    /// A registration.
    Add,
    /// A change.
    Change,
    /// A field of a change.
    Field,
    /// A deletion.
    Delete,
    /// Something worth knowing.
    Note,
}

fn style(kind: Kind) -> Style {
    match kind {
        Kind::Header => Style::new().bold(),
        Kind::Add => AnsiColor::Green.on_default(),
        Kind::Change => AnsiColor::Yellow.on_default(),
        Kind::Delete => AnsiColor::Red.on_default().bold(),
        Kind::Field | Kind::Note => Style::new(),
    }
}

fn tags_text(tags: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = tags
        .iter()
        .map(|(k, v)| format!("{}={}", sanitize(k), sanitize(v)))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

fn nickname_text(nickname: Option<&str>) -> String {
    nickname.map_or_else(|| "(none)".to_owned(), |n| format!("\"{}\"", sanitize(n)))
}

/// `old → new`, with the changed characters marked `[-…-]{+…+}` when both sides exist.
fn nickname_change(from: Option<&str>, to: Option<&str>) -> String {
    match (from, to) {
        (Some(from), Some(to)) => {
            let diff = TextDiff::from_chars(from, to);
            let mut marked = String::new();
            for change in diff.iter_all_changes() {
                let value = sanitize(change.value()).into_owned();
                match change.tag() {
                    ChangeTag::Equal => marked.push_str(&value),
                    ChangeTag::Delete => {
                        let _ = write!(marked, "[-{value}-]");
                    }
                    ChangeTag::Insert => {
                        let _ = write!(marked, "{{+{value}+}}");
                    }
                }
            }
            format!(
                "{} → {}   ({})",
                nickname_text(Some(from)),
                nickname_text(Some(to)),
                marked.replace("-][-", "").replace("+}{+", "")
            )
        }
        _ => format!("{} → {}", nickname_text(from), nickname_text(to)),
    }
}

fn update_fields(update: &Update) -> Vec<String> {
    let mut fields = Vec::new();
    if let Some(change) = &update.nickname {
        fields.push(format!(
            "nickname: {}",
            nickname_change(change.from.as_deref(), change.to.as_deref())
        ));
    }
    if let Some(change) = &update.enabled {
        fields.push(format!("enabled: {} → {}", change.from, change.to));
    }
    if let Some(change) = &update.tags {
        let mut parts: Vec<String> = change
            .set
            .iter()
            .map(|(k, v)| match change.before.get(k) {
                Some(old) => format!("~{}={}→{}", sanitize(k), sanitize(old), sanitize(v)),
                None => format!("+{}={}", sanitize(k), sanitize(v)),
            })
            .collect();
        parts.extend(change.remove.iter().map(|k| format!("-{}", sanitize(k))));
        fields.push(format!("tags: {}", parts.join(" ")));
    }
    fields
}

/// What kinds of change an update makes (not their values), so numbered devices whose nicknames
/// all change fall into one run.
fn change_shape(update: &Update) -> String {
    let mut shape = String::new();
    if update.nickname.is_some() {
        shape.push_str("nickname;");
    }
    if let Some(enabled) = &update.enabled {
        let _ = write!(shape, "enabled {}→{};", enabled.from, enabled.to);
    }
    if let Some(tags) = &update.tags {
        let keys: Vec<&str> = tags.set.keys().map(String::as_str).collect();
        let _ = write!(shape, "tags {}/{};", keys.join(","), tags.remove.join(","));
    }
    shape
}

fn run_label(first: &str, last: &str, count: usize) -> String {
    if count == 1 {
        sanitize(first).into_owned()
    } else {
        format!(
            "{} … {}  ({count} devices)",
            sanitize(first),
            sanitize(last)
        )
    }
}

fn summary_text(summary: Summary) -> String {
    format!(
        "{} to register, {} to change, {} to delete",
        summary.register, summary.update, summary.delete
    )
}

/// The totals of products, groups and members, when a plan has any.
fn fleet_summary_text(summary: Summary) -> Option<String> {
    let resources = summary.create_resources + summary.update_resources + summary.delete_resources;
    let members = summary.add_members + summary.remove_members;
    (resources + members > 0).then(|| {
        format!(
            " Products and groups: {} to create, {} to change, {} to delete. Group members: {} to add, {} to remove.",
            summary.create_resources,
            summary.update_resources,
            summary.delete_resources,
            summary.add_members,
            summary.remove_members
        )
    })
}

fn push_lines(out: &mut String, lines: Vec<(Kind, String)>, color: bool) {
    for (kind, line) in lines {
        if color && kind != Kind::Field && kind != Kind::Note {
            let style = style(kind);
            let _ = writeln!(out, "{style}{line}{style:#}");
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
}

/// The lines of one product's plan.
pub(crate) fn product_lines(product: &ProductPlan, full: bool) -> Vec<(Kind, String)> {
    let mut lines = Vec::new();
    let mut where_ = vec![
        product
            .region
            .clone()
            .unwrap_or_else(|| "default region".to_owned()),
    ];
    if let Some(instance) = &product.instance {
        where_.push(format!("instance {instance}"));
    }
    if product.prune {
        where_.push("prune".to_owned());
    }
    lines.push((
        Kind::Header,
        if product.read_by_name {
            format!(
                "product {} ({}), by name: {} of {} declared device(s) on the platform",
                product.label(),
                where_.join(", "),
                product.live_devices,
                product.live_devices + product.register.len()
            )
        } else {
            format!(
                "{} ({}), {} device(s) on the platform",
                if product.product_key.is_empty() {
                    format!("new {}", product.label())
                } else {
                    format!("product {}", product.product_key)
                },
                where_.join(", "),
                product.live_devices
            )
        },
    ));
    for run in runs(
        &product.register,
        |r| &r.name,
        |r| {
            if r.nickname.is_some() || !r.tags.is_empty() || !r.enabled {
                "detail".into()
            } else {
                String::new()
            }
        },
        full,
    ) {
        let first = run.items[0];
        let last = run.items[run.items.len() - 1];
        let mut text = format!(
            "  + {}",
            run_label(&first.name, &last.name, run.items.len())
        );
        if run.items.len() == 1 {
            if let Some(nickname) = &first.nickname {
                let _ = write!(text, "  nickname {}", nickname_text(Some(nickname)));
            }
            if !first.enabled {
                text.push_str("  disabled");
            }
            if !first.tags.is_empty() {
                let _ = write!(text, "  tags {}", tags_text(&first.tags));
            }
        } else if first.nickname.is_some() || !first.tags.is_empty() || !first.enabled {
            text.push_str("  with nicknames/tags/enabled as declared (--full lists each)");
        }
        lines.push((Kind::Add, text));
    }
    // Changes of the same kinds to a numbered run compress like registrations, with the first
    // device's changes as a sample; identical changes (enable all) need no sample.
    for run in runs(&product.update, |u| &u.name, change_shape, full) {
        let first = run.items[0];
        let last = run.items[run.items.len() - 1];
        let same = run
            .items
            .iter()
            .all(|u| update_fields(u) == update_fields(first));
        let mut header = format!(
            "  ~ {}",
            run_label(&first.name, &last.name, run.items.len())
        );
        if !same {
            let _ = write!(
                header,
                "  e.g. {} (--full lists each)",
                sanitize(&first.name)
            );
        }
        lines.push((Kind::Change, header));
        for field in update_fields(first) {
            lines.push((Kind::Field, format!("      {field}")));
        }
    }
    for run in runs(&product.delete, |d| &d.name, |_| String::new(), full) {
        let first = run.items[0];
        let last = run.items[run.items.len() - 1];
        lines.push((
            Kind::Delete,
            format!(
                "  - {}  DELETE (permanent)",
                run_label(&first.name, &last.name, run.items.len())
            ),
        ));
    }
    for name in &product.protected {
        lines.push((
            Kind::Note,
            format!(
                "  ! {}  not in any manifest, kept: protected by iotplan.protect",
                sanitize(name)
            ),
        ));
    }
    let summary = Summary {
        register: product.register.len(),
        update: product.update.len(),
        delete: product.delete.len(),
        ..Summary::default()
    };
    lines.push((
        Kind::Note,
        format!("  {}: {}", product.label(), summary_text(summary)),
    ));
    lines
}

/// The whole plan as text; colored when asked.
#[must_use]
pub fn text(plan: &Plan, full: bool, color: bool) -> String {
    let mut out = String::new();
    let summary = plan.summary();
    let fleet = super::fleet::fleet_lines(plan, full);
    if !fleet.is_empty() {
        push_lines(&mut out, fleet, color);
        out.push('\n');
    }
    for product in &plan.products {
        let mut lines = product_lines(product, full);
        if let Some(refusal) = plan
            .delete_guard
            .iter()
            .find(|r| r.group.is_none() && r.product_key == product.product_key)
        {
            lines.push((Kind::Delete, format!("  ! {refusal}")));
        }
        push_lines(&mut out, lines, color);
        out.push('\n');
    }
    if summary.has_changes() || !plan.blocked().is_empty() {
        let _ = write!(out, "Plan: {}.", summary_text(summary));
        if let Some(fleet) = fleet_summary_text(summary) {
            out.push_str(&fleet);
        }
        if summary.delete > 0 {
            let _ = write!(
                out,
                " {} device(s) will be DELETED permanently.",
                summary.delete
            );
        }
        out.push('\n');
        if !plan.delete_guard.is_empty() {
            let _ = writeln!(
                out,
                "Apply will refuse this plan: {} product(s) exceed --max-delete (see `!` above).",
                plan.delete_guard.len()
            );
        }
        let blocked = plan.blocked();
        if !blocked.is_empty() {
            let _ = writeln!(
                out,
                "Apply will refuse this plan: {} change(s) cannot be applied (see `! apply will refuse` above).",
                blocked.len()
            );
        }
    } else {
        out.push_str("No changes. The platform matches the manifests.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Change, Update};

    fn renames(count: usize) -> ProductPlan {
        ProductPlan {
            product_key: "a1Meters".to_owned(),
            product_name: None,
            region: None,
            instance: None,
            prune: false,
            live_devices: count,
            read_by_name: false,
            live_fingerprint: String::new(),
            register: Vec::new(),
            update: (1..=count)
                .map(|n| Update {
                    name: format!("meter-{n:04}"),
                    iot_id: String::new(),
                    nickname: Some(Change {
                        from: Some(format!("Old_{n}")),
                        to: Some(format!("Meter_{n}")),
                    }),
                    enabled: None,
                    tags: None,
                })
                .collect(),
            delete: Vec::new(),
            protected: Vec::new(),
        }
    }

    #[test]
    fn numbered_changes_compress_with_a_sample_unless_full() {
        let lines = product_lines(&renames(3_000), false);
        let texts: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            texts,
            [
                "product a1Meters (default region), 3000 device(s) on the platform",
                "  ~ meter-0001 … meter-3000  (3000 devices)  e.g. meter-0001 (--full lists each)",
                "      nickname: \"Old_1\" → \"Meter_1\"   ([-Old-]{+Meter+}_1)",
                "  a1Meters: 0 to register, 3000 to change, 0 to delete",
            ]
        );
        let full = product_lines(&renames(3_000), true);
        assert_eq!(full.len(), 2 + 2 * 3_000, "--full lists each change");
    }
}
