//! `LiveProduct → manifest`: what is on the platform now, as a v1 manifest that plans to no
//! changes. Numbered runs with the same settings compress into the range form where that is
//! exact (nicknames may be templated with `{n}`); secrets are never part of it.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_saphyr::{FlowMap, FlowSeq};

use crate::model::{LiveDevice, LiveProduct, numbered_name};
use crate::wire;

mod fleet;

pub use fleet::{ExportedGroups, groups_documents, memberships, product_document};

/// Shortest run written in the range form.
const MIN_RUN: usize = 3;

/// Where the manifest points.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The ProductKey.
    pub product_key: String,
    /// Region to write, if known.
    pub region: Option<String>,
    /// IotInstanceId to write, if any.
    pub instance: Option<String>,
}

/// A manifest and what could not be put in it.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The YAML text.
    pub text: String,
    /// Devices written.
    pub devices: usize,
    /// Entries written (a range counts once).
    pub entries: usize,
    /// Devices whose nickname or tags iotplan cannot declare, left unmanaged, with why.
    pub unmanaged: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    api_version: &'static str,
    kind: &'static str,
    product: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<&'a str>,
    prune: bool,
    devices: Vec<Entry>,
}

#[derive(Serialize)]
struct RangeOut {
    from: u64,
    to: u64,
}

#[derive(Serialize)]
struct Entry {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<FlowMap<RangeOut>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<FlowMap<BTreeMap<String, String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<FlowSeq<Vec<String>>>,
}

/// A device as it will be declared.
#[derive(Clone, PartialEq, Eq)]
struct Declared<'a> {
    name: &'a str,
    nickname: Option<&'a str>,
    enabled: bool,
    tags: Option<&'a BTreeMap<String, String>>,
    /// The groups it belongs to, by name (`None`: none written).
    groups: Option<&'a Vec<String>>,
}

/// How a run writes nicknames: none, the same literal, or the number filled in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NicknameForm<'a> {
    Absent,
    Literal(&'a str),
    Templated {
        prefix: &'a str,
        width: usize,
        suffix: &'a str,
    },
}

impl NicknameForm<'_> {
    fn render(self, n: u64) -> Option<String> {
        match self {
            NicknameForm::Absent => None,
            NicknameForm::Literal(nickname) => Some(nickname.to_owned()),
            NicknameForm::Templated {
                prefix,
                width,
                suffix,
            } => Some(format!("{prefix}{n:0width$}{suffix}")),
        }
    }

    fn template(self) -> Option<String> {
        match self {
            NicknameForm::Absent => None,
            NicknameForm::Literal(nickname) => Some(nickname.to_owned()),
            NicknameForm::Templated {
                prefix,
                width: 0,
                suffix,
            } => Some(format!("{prefix}{{n}}{suffix}")),
            NicknameForm::Templated {
                prefix,
                width,
                suffix,
            } => Some(format!("{prefix}{{n:{width}}}{suffix}")),
        }
    }
}

/// The ways a run's first nickname could be written for number `n`: the number filled in
/// wherever a run of digits in it reads `n` (padded to that run's length when it starts with 0),
/// or the nickname itself.
fn nickname_forms(nickname: Option<&str>, n: u64) -> Vec<NicknameForm<'_>> {
    let Some(nickname) = nickname else {
        return vec![NicknameForm::Absent];
    };
    let mut forms = Vec::new();
    let bytes = nickname.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if !bytes[at].is_ascii_digit() {
            at += 1;
            continue;
        }
        let end = bytes[at..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(bytes.len(), |length| at + length);
        let digits = &nickname[at..end];
        if digits.parse::<u64>().ok() == Some(n) {
            forms.push(NicknameForm::Templated {
                prefix: &nickname[..at],
                width: if digits.len() > 1 && digits.starts_with('0') {
                    digits.len()
                } else {
                    0
                },
                suffix: &nickname[end..],
            });
        }
        at = end;
    }
    forms.push(NicknameForm::Literal(nickname));
    forms
}

/// Which of a device's settings iotplan can declare; the rest stay unmanaged (and why).
fn declarable<'a>(
    name: &'a str,
    device: &'a LiveDevice,
    groups: Option<&'a Vec<String>>,
    unmanaged: &mut Vec<String>,
) -> Declared<'a> {
    let nickname = device.nickname.as_deref().filter(|nickname| {
        let ok = wire::is_valid_nickname(nickname, crate::manifest::MAX_NICKNAME_WEIGHT);
        if !ok {
            unmanaged.push(format!("{name}: its nickname does not follow the nickname rules, so it is left out (unmanaged)"));
        }
        ok
    });
    let tags = device
        .tags
        .as_deref()
        .filter(|tags| !tags.is_empty())
        .filter(|tags| {
            let ok = tags.len() <= wire::MAX_TAGS
                && tags.iter().all(|(key, value)| {
                    wire::is_valid_tag_key(key)
                        && key != wire::RESERVED_TAG_KEY
                        && !value.is_empty()
                        && value.chars().count() <= wire::MAX_TAG_VALUE_CHARS
                });
            if !ok {
                unmanaged.push(format!(
                    "{name}: its tags do not follow the tag rules, so they are left out (unmanaged)"
                ));
            }
            ok
        });
    Declared {
        name,
        nickname,
        enabled: device.enabled,
        tags,
        groups,
    }
}

fn plain(device: &Declared<'_>) -> Entry {
    Entry {
        name: device.name.to_owned(),
        range: None,
        nickname: device.nickname.map(str::to_owned),
        enabled: (!device.enabled).then_some(false),
        tags: device.tags.cloned().map(FlowMap),
        groups: device.groups.cloned().map(FlowSeq),
    }
}

/// Devices of one name shape (prefix, digit count, suffix), in number order.
type Shape<'a> = BTreeMap<(&'a str, usize, &'a str), Vec<(u64, Declared<'a>)>>;

/// The longest run from `start` whose numbers count up by one and whose settings agree; returns
/// its length and nickname form.
fn run_at<'a>(devices: &[(u64, Declared<'a>)], start: usize) -> (usize, NicknameForm<'a>) {
    let (first_n, first) = &devices[start];
    let mut forms = nickname_forms(first.nickname, *first_n);
    let tags_templated = first
        .tags
        .is_some_and(|tags| tags.values().any(|v| v.contains('{')));
    if tags_templated {
        return (1, forms[0]);
    }
    let mut length = 1;
    while let Some((n, next)) = devices.get(start + length) {
        if *n != first_n + length as u64
            || next.enabled != first.enabled
            || next.tags != first.tags
            || next.groups != first.groups
        {
            break;
        }
        let still: Vec<NicknameForm<'a>> = forms
            .iter()
            .copied()
            .filter(|form| form.render(*n).as_deref() == next.nickname)
            .collect();
        if still.is_empty() {
            break;
        }
        forms = still;
        length += 1;
    }
    (length, forms[0])
}

/// Writes one product's live state as a manifest; `groups` gives each device's groups by name
/// (see [`memberships`]).
///
/// # Errors
/// Only if the YAML cannot be written (a bug).
pub fn manifest(
    target: &Target,
    live: &LiveProduct,
    groups: &BTreeMap<String, Vec<String>>,
) -> Result<Exported, serde_saphyr::ser::Error> {
    let mut unmanaged = Vec::new();
    let mut shapes: Shape<'_> = BTreeMap::new();
    let mut entries: Vec<(String, Entry)> = Vec::new();
    for (name, device) in &live.devices {
        let declared = declarable(name, device, groups.get(name), &mut unmanaged);
        match numbered_name(name) {
            Some((prefix, n, digits, suffix)) => shapes
                .entry((prefix, digits, suffix))
                .or_default()
                .push((n, declared)),
            None => entries.push((name.clone(), plain(&declared))),
        }
    }
    for ((prefix, digits, suffix), mut devices) in shapes {
        devices.sort_by_key(|(n, _)| *n);
        let mut start = 0;
        while start < devices.len() {
            let (length, form) = run_at(&devices, start);
            if length < MIN_RUN {
                for (_, device) in &devices[start..start + length] {
                    entries.push((device.name.to_owned(), plain(device)));
                }
            } else {
                let (from, first) = &devices[start];
                entries.push((
                    first.name.to_owned(),
                    Entry {
                        name: if digits == 1 {
                            format!("{prefix}{{n}}{suffix}")
                        } else {
                            format!("{prefix}{{n:{digits}}}{suffix}")
                        },
                        range: Some(FlowMap(RangeOut {
                            from: *from,
                            to: from + length as u64 - 1,
                        })),
                        nickname: form.template(),
                        enabled: (!first.enabled).then_some(false),
                        tags: first.tags.cloned().map(FlowMap),
                        groups: first.groups.cloned().map(FlowSeq),
                    },
                ));
            }
            start += length;
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let document = Document {
        api_version: "iotplan/v1",
        kind: "DeviceSet",
        product: &target.product_key,
        region: target.region.as_deref(),
        instance: target.instance.as_deref(),
        prune: false,
        devices: entries.into_iter().map(|(_, entry)| entry).collect(),
    };
    let entries = document.devices.len();
    let body = serde_saphyr::to_string(&document)?;
    Ok(Exported {
        text: body,
        devices: live.devices.len(),
        entries,
        unmanaged,
    })
}

#[cfg(test)]
mod tests;
