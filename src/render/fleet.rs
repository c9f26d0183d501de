//! The products and device groups of a plan, as text lines: what is created, changed or deleted,
//! why apply would refuse, and the members each group gains or loses, compressed like devices.

use std::fmt::Write as _;

use super::compressed_names;
use super::text::Kind;
use crate::output::sanitize;
use crate::plan::fleet::{GroupPlan, MemberSet, ProductChange};
use crate::plan::{Change, Plan, TagChange};

fn place_text(region: Option<&str>, instance: Option<&str>) -> String {
    let mut text = region.unwrap_or("default region").to_owned();
    if let Some(instance) = instance {
        let _ = write!(text, ", instance {instance}");
    }
    text
}

fn tag_text(change: &TagChange) -> String {
    let mut parts: Vec<String> = change
        .set
        .iter()
        .map(|(k, v)| match change.before.get(k) {
            Some(old) => format!("~{}={}→{}", sanitize(k), sanitize(old), sanitize(v)),
            None => format!("+{}={}", sanitize(k), sanitize(v)),
        })
        .collect();
    parts.extend(change.remove.iter().map(|k| format!("-{}", sanitize(k))));
    format!("tags: {}", parts.join(" "))
}

fn text_change(field: &str, change: &Change<String>) -> String {
    format!(
        "{field}: \"{}\" → \"{}\"",
        sanitize(&change.from),
        sanitize(&change.to)
    )
}

fn product_fields(product: &ProductChange) -> Vec<String> {
    let mut fields = Vec::new();
    if product.create {
        let fixed = &product.fixed;
        let mut set = Vec::new();
        if let Some(node) = fixed.node_type {
            set.push(format!(
                "nodeType {}",
                if node == 1 { "gateway" } else { "device" }
            ));
        }
        if let Some(auth) = &fixed.auth_type {
            set.push(format!("authType {auth}"));
        }
        if let Some(format) = fixed.data_format {
            set.push(format!(
                "dataFormat {}",
                if format == 0 { "custom" } else { "alink" }
            ));
        }
        if let Some(net) = &fixed.net_type {
            set.push(format!("netType {}", net.to_lowercase()));
        }
        if let Some(protocol) = &fixed.protocol_type {
            set.push(format!("protocolType {protocol}"));
        }
        if let Some(edition) = &fixed.edition {
            set.push(format!("edition {edition}"));
        }
        if !set.is_empty() {
            fields.push(set.join(", "));
        }
    }
    if let Some(rename) = &product.rename {
        fields.push(text_change("name", rename));
    }
    if let Some(description) = &product.description {
        fields.push(text_change("description", description));
    }
    if let Some(tags) = &product.tags {
        fields.push(tag_text(tags));
    }
    fields
}

fn product_lines(product: &ProductChange, lines: &mut Vec<(Kind, String)>) {
    let place = place_text(product.region.as_deref(), product.instance.as_deref());
    let name = sanitize(&product.name);
    let key = product.product_key.as_deref().unwrap_or("new");
    if product.create {
        lines.push((Kind::Add, format!("  + product {name} ({place})  CREATE")));
    } else if product.delete {
        lines.push((
            Kind::Delete,
            format!("  - product {name} ({key}, {place})  DELETE (permanent; not in any manifest, no devices)"),
        ));
    } else if let Some(kept) = &product.kept {
        lines.push((
            Kind::Note,
            format!("  ! product {name} ({key}, {place})  not in any manifest, kept: {kept}"),
        ));
    } else if product.has_changes() || !product.blocked.is_empty() {
        lines.push((Kind::Change, format!("  ~ product {name} ({key}, {place})")));
    }
    for field in product_fields(product) {
        lines.push((Kind::Field, format!("      {field}")));
    }
    for blocked in &product.blocked {
        lines.push((Kind::Delete, format!("  ! apply will refuse: {blocked}")));
    }
}

fn member_line(sign: char, set: &MemberSet, full: bool) -> String {
    let names: Vec<&str> = set.devices.iter().map(String::as_str).collect();
    let listed = if full {
        names
            .iter()
            .map(|n| sanitize(n).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        sanitize(&compressed_names(&names)).into_owned()
    };
    format!(
        "      {sign} {} member(s) of {}: {listed}",
        set.devices.len(),
        set.product_label()
    )
}

fn group_lines(group: &GroupPlan, full: bool, lines: &mut Vec<(Kind, String)>) {
    let place = place_text(group.region.as_deref(), group.instance.as_deref());
    let name = sanitize(&group.name);
    let under = group
        .parent
        .as_deref()
        .map(|p| format!(" under {}", sanitize(p)))
        .unwrap_or_default();
    if group.create {
        lines.push((
            Kind::Add,
            format!("  + group {name}{under} ({place})  CREATE"),
        ));
    } else if group.delete {
        lines.push((
            Kind::Delete,
            format!(
                "  - group {name}{under} ({place})  DELETE (not in any manifest; its {} member(s) stay registered)",
                group.live_members
            ),
        ));
    } else if let Some(kept) = &group.kept {
        lines.push((
            Kind::Note,
            format!("  ! group {name}{under} ({place})  not in any manifest, kept: {kept}"),
        ));
    } else if group.has_changes() || !group.blocked.is_empty() {
        lines.push((
            Kind::Change,
            format!(
                "  ~ group {name}{under} ({place}), {} member(s){}",
                group.live_members,
                if group.prune { ", prune" } else { "" }
            ),
        ));
    }
    if let Some(description) = &group.description {
        lines.push((
            Kind::Field,
            format!("      {}", text_change("description", description)),
        ));
    }
    if let Some(tags) = &group.tags {
        lines.push((Kind::Field, format!("      {}", tag_text(tags))));
    }
    for set in &group.add {
        lines.push((Kind::Add, member_line('+', set, full)));
    }
    for set in &group.remove {
        lines.push((Kind::Delete, member_line('-', set, full)));
    }
    for blocked in &group.blocked {
        lines.push((Kind::Delete, format!("  ! apply will refuse: {blocked}")));
    }
}

/// The lines of the plan's products and groups: nothing when the manifests declare none, a
/// header and one line per change otherwise (parents before their sub-groups).
pub(crate) fn fleet_lines(plan: &Plan, full: bool) -> Vec<(Kind, String)> {
    let mut lines = Vec::new();
    if !plan.product_changes.is_empty() {
        let changed = plan
            .product_changes
            .iter()
            .filter(|p| p.has_changes() || !p.blocked.is_empty() || p.kept.is_some())
            .count();
        lines.push((
            Kind::Header,
            format!(
                "products: {} declared, {changed} to create, change or delete",
                plan.product_changes
                    .iter()
                    .filter(|p| !p.delete && p.kept.is_none())
                    .count()
            ),
        ));
        for product in &plan.product_changes {
            product_lines(product, &mut lines);
        }
    }
    if !plan.groups.is_empty() {
        let mut groups: Vec<&GroupPlan> = plan.groups.iter().collect();
        groups.sort_by_key(|g| (crate::plan::fleet::depth(&plan.groups, g), g.name.clone()));
        lines.push((
            Kind::Header,
            format!(
                "device groups: {} declared, {} member(s) to add, {} to remove",
                plan.groups
                    .iter()
                    .filter(|g| !g.delete && g.kept.is_none())
                    .count(),
                plan.groups.iter().map(GroupPlan::adds).sum::<usize>(),
                plan.groups.iter().map(GroupPlan::removals).sum::<usize>()
            ),
        ));
        for group in groups {
            group_lines(group, full, &mut lines);
        }
    }
    lines
}
