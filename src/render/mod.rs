//! Plan → text, JSON or markdown, all from the same `Plan`. Consecutive numbered names compress
//! into runs (`meter-00001 … meter-05000  (5000 devices)`) unless `full` is asked.

mod fleet;
mod markdown;
mod text;

pub use markdown::{MAX_COMMENT_CHARS, markdown};
pub use text::text;

use crate::plan::Plan;

/// The plan as JSON (the same document `--out` saves).
#[must_use]
pub fn json(plan: &Plan) -> String {
    let mut text = serde_json::to_string_pretty(plan).unwrap_or_default();
    text.push('\n');
    text
}

/// Names (in order) with numbered runs compressed: `meter-001 … meter-110 (110 devices), spare`.
#[must_use]
pub fn compressed_names(names: &[&str]) -> String {
    runs(names, |n| n, |_| String::new(), false)
        .iter()
        .map(|run| match run.items.as_slice() {
            [one] => crate::output::sanitize(one).into_owned(),
            items => format!(
                "{} … {} ({} devices)",
                crate::output::sanitize(items[0]),
                crate::output::sanitize(items[items.len() - 1]),
                items.len()
            ),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A run of items whose names count up by one and whose `detail` is the same.
pub(crate) struct Run<'a, T> {
    /// The items.
    pub items: Vec<&'a T>,
}

/// Groups items (in name order) into runs of consecutive numbered names with equal details.
pub(crate) fn runs<'a, T>(
    items: &'a [T],
    name: impl Fn(&T) -> &str,
    detail: impl Fn(&T) -> String,
    full: bool,
) -> Vec<Run<'a, T>> {
    let mut out: Vec<Run<'a, T>> = Vec::new();
    let mut last_key: Option<(String, u64, usize, String, String)> = None;
    for item in items {
        let key = crate::model::numbered_name(name(item)).map(|(prefix, number, width, suffix)| {
            (
                prefix.to_owned(),
                number,
                width,
                suffix.to_owned(),
                detail(item),
            )
        });
        let extends = !full
            && matches!((&last_key, &key), (Some((prefix, number, width, suffix, detail)), Some((prefix2, number2, width2, suffix2, detail2)))
                if prefix == prefix2 && *number2 == number + 1 && (width == width2 || name(item).len() == prefix.len() + width2 + suffix.len()) && suffix == suffix2 && detail == detail2);
        if extends {
            if let Some(run) = out.last_mut() {
                run.items.push(item);
            }
        } else {
            out.push(Run { items: vec![item] });
        }
        last_key = key;
    }
    // A run of two reads better as two lines.
    out.into_iter()
        .flat_map(|run| {
            if run.items.len() == 2 {
                run.items
                    .into_iter()
                    .map(|item| Run { items: vec![item] })
                    .collect()
            } else {
                vec![run]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names_split() {
        assert_eq!(
            crate::model::numbered_name("meter-00042"),
            Some(("meter-", 42, 5, ""))
        );
        assert_eq!(crate::model::numbered_name("a1-x"), Some(("a", 1, 1, "-x")));
        assert_eq!(crate::model::numbered_name("lobby"), None);
    }

    #[test]
    fn runs_break_on_gaps_and_details() {
        let names = ["m-01", "m-02", "m-03", "m-05", "m-06", "m-07", "m-08", "x"];
        let grouped = runs(
            &names,
            |n| n,
            |n| {
                if *n == "m-08" {
                    "other".into()
                } else {
                    String::new()
                }
            },
            false,
        );
        let sizes: Vec<usize> = grouped.iter().map(|r| r.items.len()).collect();
        assert_eq!(sizes, [3, 3, 1, 1]);
        assert_eq!(runs(&names, |n| n, |_| String::new(), true).len(), 8);
    }
}
