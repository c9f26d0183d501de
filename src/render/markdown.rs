//! The plan as a pull-request comment: counts first, deletions called out, ranges compressed, and
//! never longer than a comment may be (what was left out is said, with where the full plan is).

use std::fmt::Write as _;

use super::text::{Kind, product_lines};
use crate::plan::Plan;

/// The most characters a GitHub comment holds.
pub const MAX_COMMENT_CHARS: usize = 65_535;

/// Room kept for the closing lines and the truncation note.
const FOOTER_RESERVE: usize = 600;

/// The plan as markdown, at most `MAX_COMMENT_CHARS` characters.
#[must_use]
pub fn markdown(plan: &Plan) -> String {
    let summary = plan.summary();
    let mut out = String::new();
    if summary.has_changes() {
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
    } else {
        out.push_str("### iotplan: no changes\n\nThe platform matches the manifests.\n");
        return out;
    }
    out.push_str("| Product | Register | Change | Delete | On the platform now |\n|---|---:|---:|---:|---:|\n");
    for product in &plan.products {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            product.product_key,
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
    let mut left_out = 0usize;
    let mut truncated = false;
    for product in plan.products.iter().filter(|p| p.has_changes()) {
        let opening = format!(
            "<details><summary><code>{}</code></summary>\n\n```diff\n",
            product.product_key
        );
        let closing = "```\n\n</details>\n\n";
        if truncated
            || out.len() + opening.len() + closing.len() + FOOTER_RESERVE > MAX_COMMENT_CHARS
        {
            truncated = true;
            left_out += product_lines(product, false).len();
            continue;
        }
        out.push_str(&opening);
        for (kind, line) in product_lines(product, false) {
            let line = match kind {
                Kind::Header | Kind::Note => format!("# {}", line.trim_start()),
                Kind::Change => format!("!{}", &line[1..]),
                _ => line,
            };
            if truncated
                || out.len() + line.len() + 1 + closing.len() + FOOTER_RESERVE > MAX_COMMENT_CHARS
            {
                truncated = true;
                left_out += 1;
                continue;
            }
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(closing);
    }
    if truncated {
        let _ = writeln!(
            out,
            "_{left_out} more plan line(s) left out to fit a comment. The full plan is in the saved plan file (`iotplan plan --out plan.json`, kept as a pipeline artifact), or run `iotplan plan --full` locally._"
        );
    }
    out
}
