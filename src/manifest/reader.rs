//! YAML text → manifest documents, two ways that agree.
//!
//! [`exact`] is serde-saphyr: every YAML feature, and the precise message and location of
//! whatever is wrong. [`plain`] reads the YAML manifests are usually written in (block or flow
//! collections of plain or quoted scalars, nothing else) straight from the parser's events, about
//! twice as fast on a long device list. It builds the very documents `exact` would and leaves
//! everything else to `exact`: anchors, aliases, tags, directives, block scalars, null-like or
//! unusual scalars, unknown or repeated keys, wrong types, parse errors, and anything near the
//! parser's limits. Both run the same YAML parser (granit-parser, serde-saphyr's own) with the
//! same options, so the two never disagree on what the text says; a proptest and the manifest
//! fuzz target check that whatever `plain` reads, `exact` reads the same.

use std::collections::BTreeMap;

use granit_parser::{Event, Parser, ScalarStyle, Span, StrInput};

use super::schema::{At, DeviceEntry, ManifestDocument, Range};

/// The parser's resource limits, raised so that one file can list about two million devices
/// (a plain entry is 3 nodes and 4 events). The alias and anchor limits that stop "billion
/// laughs" documents stay at the parser's defaults.
fn budget() -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = 8_000_000;
    budget.max_events = 12_000_000;
    budget.max_total_scalar_bytes = 512 * 1024 * 1024;
    budget
}

/// Reads every document with serde-saphyr.
///
/// # Errors
/// The first problem: YAML syntax, structure (unknown key, wrong type, missing field) or a limit.
pub fn exact(text: &str) -> Result<Vec<ManifestDocument>, serde_saphyr::Error> {
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget());
    serde_saphyr::from_multiple_with_options(text, options)
}

/// Reads every document if the whole text keeps to plain YAML; `None` leaves it to [`exact`].
#[must_use]
pub fn plain(text: &str) -> Option<Vec<ManifestDocument>> {
    let budget = budget();
    // serde-saphyr's parser options for this budget (`Budget::parser_options`), comments off.
    let options = granit_parser::options! {
        simple_key_max_lookahead: budget.simple_key_max_lookahead,
        flow_nesting_limit: budget.flow_nesting_limit,
        block_nesting_limit: granit_parser::Options::default()
            .block_nesting_limit
            .max(budget.max_depth.saturating_add(1)),
        emit_comments: false,
    };
    let mut reader = PlainReader {
        parser: Parser::with_options(StrInput::new(text), options),
        // Half of each limit: whatever comes near one is for serde-saphyr to judge.
        events_left: budget.max_events / 2,
        nodes_left: budget.max_nodes / 2,
        scalar_bytes_left: budget.max_total_scalar_bytes / 2,
    };
    let documents = reader.documents(budget.max_documents / 2)?;
    (!documents.is_empty()).then_some(documents)
}

/// Walks the parser's events, building documents; every method returns `None` as soon as the
/// text leaves plain YAML or the manifest's shape.
struct PlainReader<'a> {
    parser: Parser<'a, StrInput<'a>>,
    events_left: usize,
    nodes_left: usize,
    scalar_bytes_left: usize,
}

/// A scalar as written: its text, whether it was quoted, and where.
struct Scalar<'a> {
    text: std::borrow::Cow<'a, str>,
    quoted: bool,
    span: Span,
}

/// What the next event is, for the reader: plain-YAML events only.
enum Node<'a> {
    Scalar(Scalar<'a>),
    MappingStart(Span),
    MappingEnd,
    SequenceStart,
    SequenceEnd,
}

/// The next mapping entry's key, or the mapping's end.
enum Key<'a> {
    Field(std::borrow::Cow<'a, str>),
    End,
}

fn at<T>(value: T, span: Span) -> At<T> {
    At {
        value,
        line: u32::try_from(span.start.line()).unwrap_or(u32::MAX),
        column: u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
    }
}

/// Whether serde-saphyr reads a plain scalar as null (`~`, `null`, nothing).
fn is_nullish(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

impl<'a> PlainReader<'a> {
    fn event(&mut self) -> Option<(Event<'a>, Span)> {
        self.events_left = self.events_left.checked_sub(1)?;
        self.parser.next()?.ok()
    }

    fn node(&mut self) -> Option<Node<'a>> {
        let (event, span) = self.event()?;
        let node = match event {
            Event::Scalar(text, style, 0, None) => {
                let quoted = match style {
                    ScalarStyle::Plain if !is_nullish(&text) => false,
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => true,
                    _ => return None,
                };
                self.scalar_bytes_left = self.scalar_bytes_left.checked_sub(text.len())?;
                Node::Scalar(Scalar { text, quoted, span })
            }
            Event::MappingStart(_, 0, None) => Node::MappingStart(span),
            Event::SequenceStart(_, 0, None) => Node::SequenceStart,
            Event::MappingEnd => return Some(Node::MappingEnd),
            Event::SequenceEnd => return Some(Node::SequenceEnd),
            _ => return None,
        };
        self.nodes_left = self.nodes_left.checked_sub(1)?;
        Some(node)
    }

    fn documents(&mut self, most: usize) -> Option<Vec<ManifestDocument>> {
        let (Event::StreamStart, _) = self.event()? else {
            return None;
        };
        let mut documents = Vec::new();
        loop {
            match self.event()? {
                (Event::DocumentStart(_, None), _) if documents.len() < most => {
                    documents.push(self.document()?);
                    let (Event::DocumentEnd, _) = self.event()? else {
                        return None;
                    };
                }
                (Event::StreamEnd, _) => return Some(documents),
                _ => return None,
            }
        }
    }

    /// The key of the next mapping entry, or the mapping's end. A merge key (`<<`) is
    /// serde-saphyr's to expand.
    fn key(&mut self) -> Option<Key<'a>> {
        match self.node()? {
            Node::MappingEnd => Some(Key::End),
            Node::Scalar(key) if key.text != "<<" => Some(Key::Field(key.text)),
            _ => None,
        }
    }

    fn scalar(&mut self) -> Option<Scalar<'a>> {
        match self.node()? {
            Node::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    fn string(&mut self) -> Option<At<String>> {
        let scalar = self.scalar()?;
        Some(at(scalar.text.into_owned(), scalar.span))
    }

    fn boolean(&mut self) -> Option<At<bool>> {
        let scalar = self.scalar()?;
        let value = match (&*scalar.text, scalar.quoted) {
            ("true", false) => true,
            ("false", false) => false,
            _ => return None,
        };
        Some(at(value, scalar.span))
    }

    fn number(&mut self) -> Option<u64> {
        let scalar = self.scalar()?;
        let text = &*scalar.text;
        let canonical = !scalar.quoted
            && (1..=19).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_digit())
            && (text == "0" || !text.starts_with('0'));
        canonical.then(|| text.parse().ok()).flatten()
    }

    fn document(&mut self) -> Option<ManifestDocument> {
        let Node::MappingStart(_) = self.node()? else {
            return None;
        };
        let (mut api_version, mut kind, mut product, mut product_name) = (None, None, None, None);
        let (mut region, mut instance, mut prune, mut devices) = (None, None, None, None);
        while let Key::Field(key) = self.key()? {
            match &*key {
                "apiVersion" if api_version.is_none() => api_version = Some(self.string()?),
                "kind" if kind.is_none() => kind = Some(self.string()?),
                "product" if product.is_none() => product = Some(self.string()?),
                "productName" if product_name.is_none() => product_name = Some(self.string()?),
                "region" if region.is_none() => region = Some(self.string()?),
                "instance" if instance.is_none() => instance = Some(self.string()?),
                "prune" if prune.is_none() => prune = Some(self.boolean()?),
                "devices" if devices.is_none() => devices = Some(self.devices()?),
                _ => return None,
            }
        }
        // Products and groups are a few lines each: the exact reader has them.
        Some(ManifestDocument {
            api_version: api_version?,
            kind: kind?,
            product,
            product_name,
            name: None,
            description: None,
            node_type: None,
            auth_type: None,
            data_format: None,
            net_type: None,
            protocol_type: None,
            edition: None,
            parent: None,
            tags: None,
            region,
            instance,
            prune,
            devices: devices.unwrap_or_default(),
        })
    }

    fn devices(&mut self) -> Option<Vec<At<DeviceEntry>>> {
        let Node::SequenceStart = self.node()? else {
            return None;
        };
        let mut devices = Vec::new();
        loop {
            match self.node()? {
                Node::SequenceEnd => return Some(devices),
                Node::MappingStart(span) => devices.push(at(self.entry()?, span)),
                _ => return None,
            }
        }
    }

    fn entry(&mut self) -> Option<DeviceEntry> {
        let (mut name, mut range, mut nickname, mut enabled, mut tags) =
            (None, None, None, None, None);
        while let Key::Field(key) = self.key()? {
            match &*key {
                "name" if name.is_none() => name = Some(self.string()?),
                "range" if range.is_none() => range = Some(self.range()?),
                "nickname" if nickname.is_none() => nickname = Some(self.string()?),
                "enabled" if enabled.is_none() => enabled = Some(self.boolean()?.value),
                "tags" if tags.is_none() => tags = Some(self.tags()?),
                _ => return None,
            }
        }
        Some(DeviceEntry {
            name: name?,
            range,
            nickname,
            enabled,
            tags,
            // Group lists are left to the exact reader.
            groups: None,
        })
    }

    fn range(&mut self) -> Option<At<Range>> {
        let Node::MappingStart(span) = self.node()? else {
            return None;
        };
        let (mut from, mut to) = (None, None);
        while let Key::Field(key) = self.key()? {
            match &*key {
                "from" if from.is_none() => from = Some(self.number()?),
                "to" if to.is_none() => to = Some(self.number()?),
                _ => return None,
            }
        }
        Some(at(
            Range {
                from: from?,
                to: to?,
            },
            span,
        ))
    }

    fn tags(&mut self) -> Option<At<BTreeMap<String, String>>> {
        let Node::MappingStart(span) = self.node()? else {
            return None;
        };
        let mut tags = BTreeMap::new();
        while let Key::Field(key) = self.key()? {
            let value = self.scalar()?.text.into_owned();
            if tags.insert(key.into_owned(), value).is_some() {
                return None;
            }
        }
        Some(at(tags, span))
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use proptest::prelude::*;

    use super::{exact, plain};

    const TYPICAL: &str = "# lights\napiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1BwAGV8aWs\nregion: cn-shanghai\nprune: true\ndevices:\n  - name: sensor-0001\n    nickname: 大堂灯_1\n    tags: {site: hq, floor: \"1\"}\n  - name: meter-{n:03}\n    range: {from: 1, to: 12}\n    nickname: 'Meter_{n}'\n    enabled: false\n---\napiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1Other\ndevices: []\n";

    #[test]
    fn plain_reads_typical_manifests_as_exact_does() {
        let fast = plain(TYPICAL).expect("typical manifests are plain YAML");
        assert_eq!(fast, exact(TYPICAL).expect("valid YAML"));
        assert_eq!(fast.len(), 2);
        let meter = &fast[0].devices[1];
        assert_eq!((meter.line, meter.column), (11, 5));
        assert_eq!(
            meter.value.range.as_ref().map(|r| (r.line, r.column)),
            Some((12, 12))
        );
    }

    #[test]
    fn plain_leaves_everything_else_to_exact() {
        for text in [
            "",
            "# only a comment\n",
            "apiVersion: &v iotplan/v1\nkind: DeviceSet\nproduct: a1B\n",
            "apiVersion: iotplan/v1\nkind: !!str DeviceSet\nproduct: a1B\n",
            "%YAML 1.2\n---\napiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1B\n",
            "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: ~\n",
            "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1B\nprune: yes\n",
            "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1B\nproduct: a1C\n",
            "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1B\nextra: 1\n",
            "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: |\n  a1B\n",
            "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1B\ndevices:\n  - name: m-{n}\n    range: {from: 01, to: 2}\n",
            "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: 'a1B\n",
            "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1B\ndevices:\n  - name: abcd\n    tags:\n      <<: x\n",
        ] {
            assert_eq!(plain(text), None, "{text:?}");
        }
    }

    /// A scalar as a manifest might hold it: ordinary, quoted, YAML-typed, or a YAML feature.
    fn scalar() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "iotplan/v1",
            "DeviceSet",
            "a1BwAGV8aWs",
            "cn-shanghai",
            "sensor-0001",
            "m-{n:03}",
            "Meter_{n}",
            "大堂灯_1",
            "hq",
            "x",
            "'quoted'",
            "\"dq \\u00e9\"",
            "''",
            "\"\"",
            "123",
            "0",
            "007",
            "0x1F",
            "0o17",
            "1_000",
            "-5",
            "+3",
            "1e3",
            "1.5",
            ".inf",
            ".nan",
            "true",
            "false",
            "True",
            "FALSE",
            "yes",
            "no",
            "on",
            "off",
            "~",
            "null",
            "Null",
            "",
            "&a x",
            "*a",
            "!!str 12",
            "!!int 5",
            "!custom v",
            "|\n      block",
            ">-\n      folded",
            "[1, 2]",
            "{k: v}",
            "x # note",
            "a b",
            "'it''s'",
            "\"tab\\tx\"",
            "@home",
            "`tick",
            "- item",
            "99999999999999999999",
            "\"multi\n      line\"",
            "x:y",
            "<<",
        ])
    }

    fn key() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "name",
            "range",
            "nickname",
            "enabled",
            "tags",
            "from",
            "to",
            "apiVersion",
            "kind",
            "product",
            "region",
            "instance",
            "prune",
            "devices",
            "site",
            "\"name\"",
            "'to'",
            "<<",
            "~",
            "1",
            "Name",
            "? name",
        ])
    }

    /// A mapping of 0-4 entries whose values are scalars or (once nested) further mappings.
    fn mapping(indent: usize, depth: u32) -> BoxedStrategy<String> {
        let value = if depth == 0 {
            scalar().prop_map(str::to_owned).boxed()
        } else {
            prop_oneof![
                3 => scalar().prop_map(str::to_owned),
                1 => mapping(indent + 2, depth - 1).prop_map(move |m| format!("\n{m}")),
                1 => mapping(0, 0).prop_map(|m| format!("{{{}}}", m.trim_end().replace('\n', ", "))),
            ]
            .boxed()
        };
        prop::collection::vec((key(), value), 0..5)
            .prop_map(move |entries| {
                entries.into_iter().fold(String::new(), |mut text, (k, v)| {
                    let _ = writeln!(text, "{:indent$}{k}: {v}", "");
                    text
                })
            })
            .boxed()
    }

    /// A device entry built from real field names with values of any kind.
    fn entry() -> impl Strategy<Value = String> {
        let field = prop_oneof![
            4 => scalar().prop_map(|v| format!("name: {v}")),
            2 => (scalar(), scalar()).prop_map(|(f, t)| format!("range: {{from: {f}, to: {t}}}")),
            1 => (scalar(), scalar()).prop_map(|(f, t)| format!("range:\n      from: {f}\n      to: {t}")),
            2 => scalar().prop_map(|v| format!("nickname: {v}")),
            2 => scalar().prop_map(|v| format!("enabled: {v}")),
            2 => (scalar(), scalar()).prop_map(|(k, v)| format!("tags: {{site: {v}, {k}: hq}}")),
            1 => mapping(6, 0).prop_map(|m| format!("tags:\n{m}")),
            1 => key().prop_map(|k| format!("{k}: x")),
        ];
        prop::collection::vec(field, 1..4).prop_map(|fields| {
            let mut text = String::new();
            for (i, field) in fields.iter().enumerate() {
                text.push_str(if i == 0 { "  - " } else { "    " });
                text.push_str(field);
                text.push('\n');
            }
            text
        })
    }

    /// A document: mostly the real header, sometimes a strange line, and devices in block or
    /// flow form.
    fn document() -> impl Strategy<Value = String> {
        let header = prop_oneof![
            6 => Just("apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1BwAGV8aWs\n".to_owned()),
            2 => (key(), scalar()).prop_map(|(k, v)| format!("apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1B\n{k}: {v}\n")),
            1 => mapping(0, 1),
        ];
        let devices = prop_oneof![
            4 => prop::collection::vec(entry(), 0..4).prop_map(|e| format!("devices:\n{}", e.concat())),
            1 => (scalar(), scalar()).prop_map(|(a, b)| format!("devices: [{{name: {a}}}, {{name: {b}, enabled: false}}]\n")),
            1 => Just(String::new()),
            1 => scalar().prop_map(|v| format!("devices: {v}\n")),
        ];
        let separator = prop::sample::select(vec!["", "---\n", "...\n---\n", "--- # next\n"]);
        (separator, header, devices).prop_map(|(s, h, d)| format!("{s}{h}{d}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// Whatever `plain` reads, `exact` reads the same, locations included.
        #[test]
        fn plain_never_disagrees_with_exact(documents in prop::collection::vec(document(), 1..3)) {
            let text = documents.join("---\n");
            if let Some(fast) = plain(&text) {
                let slow = exact(&text);
                prop_assert!(slow.is_ok(), "plain read what exact refuses: {text}\n{slow:?}");
                prop_assert_eq!(fast, slow.unwrap_or_default(), "{}", text);
            }
        }
    }
}
