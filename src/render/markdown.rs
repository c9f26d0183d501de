//! The plan as a pull-request comment: counts first, deletions called out, ranges compressed, and
//! never longer than a comment may be (what was left out is said, with where the full plan is).

use std::fmt::Write as _;

use super::fleet::fleet_lines;
use super::text::{Kind, product_lines};
use crate::plan::Plan;

/// The most characters a GitHub comment holds.
pub const MAX_COMMENT_CHARS: usize = 65_535;

/// Room kept for the closing lines and the truncation note.
const FOOTER_RESERVE: usize = 600;

/// Collapsed `diff` blocks, as many lines as fit a comment; the rest are counted.
#[derive(Default)]
struct Block {
    left_out: usize,
    truncated: bool,
}

impl Block {
    fn push(&mut self, out: &mut String, title: &str, lines: Vec<(Kind, String)>) {
        let opening = format!("<details><summary><code>{title}</code></summary>\n\n```diff\n");
        let closing = "```\n\n</details>\n\n";
        if self.truncated
            || out.len() + opening.len() + closing.len() + FOOTER_RESERVE > MAX_COMMENT_CHARS
        {
            self.truncated = true;
            self.left_out += lines.len();
            return;
        }
        out.push_str(&opening);
        for (kind, line) in lines {
            let line = match kind {
                Kind::Header | Kind::Note => format!("# {}", line.trim_start()),
                Kind::Change => format!("!{}", &line[1..]),
                _ => line,
            };
            if self.truncated
                || out.len() + line.len() + 1 + closing.len() + FOOTER_RESERVE > MAX_COMMENT_CHARS
            {
                self.truncated = true;
                self.left_out += 1;
                continue;
            }
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(closing);
    }
}

/// The plan as markdown, at most `MAX_COMMENT_CHARS` characters.
#[must_use]
pub fn markdown(plan: &Plan) -> String {
    let summary = plan.summary();
    let mut out = String::new();
    let blocked = plan.blocked();
    if summary.has_changes() || !blocked.is_empty() {
        let _ = writeln!(
            out,
            "### iotplan: {} to register, {} to change, {}\n",
            summary.register,
            summary.update,
            if summary.delete > 0 {
                format!("**{} to delete**", summary.delete)
            } else {
                "0 to delete".to_owned()
            }
        );
        if summary.create_resources
            + summary.update_resources
            + summary.delete_resources
            + summary.add_members
            + summary.remove_members
            > 0
        {
            let _ = writeln!(
                out,
                "Products and groups: {} to create, {} to change, {}. Group members: {} to add, {}.\n",
                summary.create_resources,
                summary.update_resources,
                if summary.delete_resources > 0 {
                    format!("**{} to delete**", summary.delete_resources)
                } else {
                    "0 to delete".to_owned()
                },
                summary.add_members,
                if summary.remove_members > 0 {
                    format!("**{} to remove**", summary.remove_members)
                } else {
                    "0 to remove".to_owned()
                }
            );
        }
    } else {
        out.push_str("### iotplan: no changes\n\nThe platform matches the manifests.\n");
        return out;
    }
    if !plan.delete_guard.is_empty() || !blocked.is_empty() {
        out.push_str("> [!CAUTION]\n> **Apply will refuse this plan** as it stands:\n");
        for refusal in &plan.delete_guard {
            let _ = writeln!(out, "> - {refusal}");
        }
        for reason in blocked.iter().take(20) {
            let _ = writeln!(out, "> - {}", crate::output::sanitize(reason));
        }
        if blocked.len() > 20 {
            let _ = writeln!(out, "> - and {} more", blocked.len() - 20);
        }
        out.push('\n');
    }
    out.push_str("| Product | Register | Change | Delete | On the platform now |\n|---|---:|---:|---:|---:|\n");
    for product in &plan.products {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            product.label(),
            product.register.len(),
            product.update.len(),
            if product.delete.is_empty() {
                "0".to_owned()
            } else {
                format!("**{}**", product.delete.len())
            },
            product.live_devices
        );
    }
    out.push('\n');
    if summary.delete > 0 {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> **{} device(s) will be deleted permanently** (prune is on):",
            summary.delete
        );
        for product in plan.products.iter().filter(|p| !p.delete.is_empty()) {
            let names: Vec<&str> = product
                .delete
                .iter()
                .take(20)
                .map(|d| d.name.as_str())
                .collect();
            let more = product.delete.len().saturating_sub(names.len());
            let _ = writeln!(
                out,
                "> - `{}`: `{}`{}",
                product.product_key,
                names.join("`, `"),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
        out.push('\n');
    }
    let mut block = Block::default();
    let fleet = fleet_lines(plan, false);
    if !fleet.is_empty() {
        block.push(&mut out, "products and device groups", fleet);
    }
    for product in plan.products.iter().filter(|p| p.has_changes()) {
        block.push(&mut out, &product.label(), product_lines(product, false));
    }
    let Block {
        left_out,
        truncated,
    } = block;
    if truncated {
        let _ = writeln!(
            out,
            "_{left_out} more plan line(s) left out to fit a comment. The full plan is in the saved plan file (`iotplan plan --out plan.json`, kept as a pipeline artifact), or run `iotplan plan --full` locally._"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Deletion, ProductPlan, Registration, Update};

    fn big_plan() -> Plan {
        let product = |key: &str, offset: usize| ProductPlan {
            product_key: key.to_owned(),
            product_name: None,
            region: None,
            instance: None,
            prune: true,
            live_devices: 20_000,
            read_by_name: false,
            live_fingerprint: String::new(),
            // Every other number, so nothing compresses: the worst case for size.
            register: (0..10_000)
                .map(|n| Registration {
                    name: format!("dev-{:06}", offset + 2 * n),
                    nickname: None,
                    enabled: true,
                    tags: std::collections::BTreeMap::default(),
                })
                .collect(),
            update: (0..5_000)
                .map(|n| Update {
                    name: format!("upd-{:06}", 2 * n),
                    iot_id: String::new(),
                    nickname: None,
                    enabled: Some(crate::plan::Change {
                        from: true,
                        to: false,
                    }),
                    tags: None,
                })
                .collect(),
            delete: (0..5_000)
                .map(|n| Deletion {
                    name: format!("old-{:06}", 2 * n),
                    iot_id: String::new(),
                })
                .collect(),
            protected: Vec::new(),
        };
        Plan {
            format_version: 1,
            manifest_files: Vec::new(),
            manifest_fingerprint: String::new(),
            products: vec![product("a1ProductA", 0), product("a1ProductB", 1)],
            delete_guard: Vec::new(),
            ..Plan::default()
        }
    }

    #[test]
    fn a_twenty_thousand_device_plan_fits_a_comment_and_says_what_was_left_out() {
        let text = markdown(&big_plan());
        assert!(
            text.chars().count() <= MAX_COMMENT_CHARS,
            "{} characters",
            text.chars().count()
        );
        assert!(
            text.starts_with(
                "### iotplan: 20000 to register, 10000 to change, **10000 to delete**"
            )
        );
        assert!(
            text.contains("| `a1ProductB` | 10000 | 5000 | **5000** | 20000 |"),
            "counts come first"
        );
        assert!(text.contains("**10000 device(s) will be deleted permanently**"));
        assert!(
            text.contains("more plan line(s) left out to fit a comment")
                && text.contains("iotplan plan --out")
        );
    }

    #[test]
    fn no_changes_is_short() {
        let plan = Plan {
            format_version: 1,
            manifest_files: Vec::new(),
            manifest_fingerprint: String::new(),
            products: Vec::new(),
            delete_guard: Vec::new(),
            ..Plan::default()
        };
        assert_eq!(
            markdown(&plan),
            "### iotplan: no changes\n\nThe platform matches the manifests.\n"
        );
    }
}
