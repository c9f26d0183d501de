//! Manifests → `DesiredState`: find the files, parse YAML with locations (serde-saphyr), expand the
//! compact range form, validate everything offline and report every problem at once, each with
//! file:line:column, the offending line, and what to do.
//!
//! A document whose structure is wrong (unknown key, wrong type, YAML syntax) reports that first
//! problem and is skipped; every other document and every other check still runs.

mod fleet;
pub mod reader;
mod schema;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::Digest as _;

use crate::model::{DesiredState, DeviceSpec, Origin, ProductSpec};
use crate::wire;
pub use schema::{At, DeviceEntry, ManifestDocument, Range, json_schema};

/// The only apiVersion.
pub const API_VERSION: &str = "iotplan/v1";
/// The kind of a product's devices.
pub const KIND: &str = "DeviceSet";
/// The kind of a product.
pub const PRODUCT_KIND: &str = "Product";
/// The kind of a device group.
pub const GROUP_KIND: &str = "DeviceGroup";
/// Most devices one range entry may expand to.
pub const MAX_RANGE: u64 = 1_000_000;
/// Longest nickname (weighted: a CJK character counts 2).
pub const MAX_NICKNAME_WEIGHT: usize = 32;

/// Most problems the text report shows (the JSON report of `validate` has them all).
pub const SHOWN_DIAGNOSTICS: usize = 100;

/// One problem in the manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where.
    pub origin: Origin,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
    /// The offending line with a caret under the column.
    pub snippet: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)?;
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{snippet}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Why the manifests could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Error {
    /// Every problem found, in file and line order.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.diagnostics.len();
        writeln!(
            f,
            "{count} problem{} in the manifests:",
            if count == 1 { "" } else { "s" }
        )?;
        for diagnostic in self.diagnostics.iter().take(SHOWN_DIAGNOSTICS) {
            writeln!(f, "{diagnostic}")?;
        }
        if count > SHOWN_DIAGNOSTICS {
            writeln!(
                f,
                "… and {} more, not shown; `iotplan validate --format json` lists them all",
                count - SHOWN_DIAGNOSTICS
            )?;
        }
        Ok(())
    }
}

/// What the manifests were read from, for saved plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The desired state.
    pub desired: DesiredState,
    /// The files read, in order.
    pub files: Vec<PathBuf>,
    /// SHA-256 of the files' contents, in order.
    pub fingerprint: String,
}

struct Source {
    file: Arc<str>,
    text: String,
    /// Where each line starts, built on the first snippet (a file with thousands of problems
    /// must not be scanned once per problem).
    line_starts: std::cell::OnceCell<Vec<usize>>,
}

impl Source {
    fn new(file: Arc<str>, text: String) -> Self {
        Self {
            file,
            text,
            line_starts: std::cell::OnceCell::new(),
        }
    }

    /// Line `line` (1-based) without its line break.
    fn line(&self, line: u64) -> Option<&str> {
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(at, _)| at + 1))
                .filter(|&start| start < self.text.len())
                .collect()
        });
        let start = *starts.get(usize::try_from(line.checked_sub(1)?).ok()?)?;
        let rest = &self.text[start..];
        let text = rest.find('\n').map_or(rest, |end| &rest[..end]);
        Some(text.strip_suffix('\r').unwrap_or(text))
    }

    fn origin(&self, line: u64, column: u64) -> Origin {
        Origin {
            file: self.file.clone(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }

    fn origin_of<T>(&self, at: &At<T>) -> Origin {
        self.origin(at.line.into(), at.column.into())
    }

    fn snippet(&self, line: u64, column: u64) -> Option<String> {
        let text = self.line(line)?;
        let width = line.to_string().len();
        let caret = " ".repeat(usize::try_from(column.saturating_sub(1)).unwrap_or(0));
        Some(format!(
            "{:width$} |\n{line} | {}\n{:width$} | {caret}^",
            "",
            // A tab shows as one visible column, so the caret stays under it.
            crate::output::sanitize(&text.replace('\t', "→")),
            ""
        ))
    }

    fn diagnostic(
        &self,
        line: u64,
        column: u64,
        message: impl Into<String>,
        hint: Option<&str>,
    ) -> Diagnostic {
        Diagnostic {
            origin: self.origin(line, column),
            message: message.into(),
            hint: hint.map(str::to_owned),
            snippet: self.snippet(line, column),
        }
    }

    fn at<T>(&self, at: &At<T>, message: impl Into<String>, hint: Option<&str>) -> Diagnostic {
        self.diagnostic(at.line.into(), at.column.into(), message, hint)
    }
}

/// Finds manifest files: each path is a file, or a folder read recursively for `*.yaml`/`*.yml`,
/// in sorted order.
/// The manifest files `paths` name, in order: a folder is read recursively in sorted order,
/// following symbolic links (a link that loops or dangles is a problem, never skipped silently),
/// without hidden entries below it. A file named twice, directly or through a link, is read once.
fn discover(paths: &[PathBuf], diagnostics: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut add = |file: PathBuf, files: &mut Vec<PathBuf>| {
        let identity = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        if seen.insert(identity) {
            files.push(file);
        }
    };
    for path in paths {
        let problem = |message: String, hint: &str| Diagnostic {
            origin: Origin {
                file: path.display().to_string().into(),
                line: 0,
                column: 0,
            },
            message,
            hint: Some(hint.to_owned()),
            snippet: None,
        };
        let manifests_hint = "pass manifest files or folders that hold *.yaml / *.yml files";
        if path.is_dir() {
            let mut found = 0usize;
            // Hidden files and folders below the root (.git, .github, .gitlab-ci.yml) are not
            // manifests.
            let walk = walkdir::WalkDir::new(path)
                .follow_links(true)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|entry| {
                    entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.')
                });
            for entry in walk {
                match entry {
                    Ok(entry) if entry.file_type().is_file() => {
                        let file = entry.into_path();
                        if file.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                            found += 1;
                            add(file, &mut files);
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        let at = error.path().map_or_else(
                            || path.display().to_string(),
                            |p| p.display().to_string(),
                        );
                        let (message, hint) = if error.loop_ancestor().is_some() {
                            (
                                format!(
                                    "{at} is a symbolic link that loops back to a folder above it"
                                ),
                                "remove the link, or point it at a folder outside the manifests",
                            )
                        } else {
                            (
                                format!(
                                    "cannot read {at}: {}",
                                    error
                                        .io_error()
                                        .map_or_else(|| error.to_string(), ToString::to_string)
                                ),
                                "fix or remove it (a dangling symbolic link?): a manifest that cannot be read is never skipped, since prune would delete what it declares",
                            )
                        };
                        diagnostics.push(problem(message, hint));
                    }
                }
            }
            if found == 0 {
                diagnostics.push(problem(
                    format!(
                        "the folder {} holds no *.yaml or *.yml files",
                        path.display()
                    ),
                    manifests_hint,
                ));
            }
        } else if path.is_file() {
            add(path.clone(), &mut files);
        } else if path.symlink_metadata().is_ok() {
            diagnostics.push(problem(
                format!("{} is a symbolic link to nothing", path.display()),
                "point it at a manifest, or remove it",
            ));
        } else {
            diagnostics.push(problem(
                format!("{} does not exist", path.display()),
                manifests_hint,
            ));
        }
    }
    files
}

/// Where a file stops being UTF-8: line and column of the first invalid byte.
fn first_invalid_byte(path: &Path, bytes: &[u8], error: std::str::Utf8Error) -> Origin {
    let valid = &bytes[..error.valid_up_to()];
    let line_start = valid
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |at| at + 1);
    Origin {
        file: path.display().to_string().into(),
        line: valid.split(|&b| b == b'\n').count() as u32,
        column: (valid.len() - line_start) as u32 + 1,
    }
}

/// Reads, expands and validates manifests.
///
/// # Errors
/// Every problem found, each with its location.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, Error> {
    let mut diagnostics = Vec::new();
    let files = discover(paths, &mut diagnostics);
    let mut builder = Builder::default();
    let mut hasher = sha2::Sha256::default();
    for path in &files {
        match std::fs::read(path) {
            Ok(bytes) => {
                hasher.update(path.display().to_string().as_bytes());
                hasher.update([0]);
                hasher.update(&bytes);
                match String::from_utf8(bytes) {
                    Ok(text) => builder.add_file(
                        &Source::new(path.display().to_string().into(), text),
                        &mut diagnostics,
                    ),
                    Err(error) => diagnostics.push(Diagnostic {
                        origin: first_invalid_byte(path, error.as_bytes(), error.utf8_error()),
                        message: "the file is not UTF-8 text".to_owned(),
                        hint: Some("save the manifest as UTF-8".to_owned()),
                        snippet: None,
                    }),
                }
            }
            Err(error) => diagnostics.push(Diagnostic {
                origin: Origin {
                    file: path.display().to_string().into(),
                    line: 0,
                    column: 0,
                },
                message: format!("cannot read the file: {error}"),
                hint: None,
                snippet: None,
            }),
        }
    }
    builder.finish(&mut diagnostics);
    if !diagnostics.is_empty() {
        return Err(Error { diagnostics });
    }
    Ok(Loaded {
        desired: builder.desired,
        files,
        fingerprint: hex::encode(hasher.finalize()),
    })
}

/// Reads one manifest text (for tests and tools); `name` stands for the file in locations.
///
/// # Errors
/// Every problem found.
pub fn load_str(name: &str, text: &str) -> Result<DesiredState, Error> {
    let mut diagnostics = Vec::new();
    let mut builder = Builder::default();
    builder.add_file(&Source::new(name.into(), text.to_owned()), &mut diagnostics);
    builder.finish(&mut diagnostics);
    if diagnostics.is_empty() {
        Ok(builder.desired)
    } else {
        Err(Error { diagnostics })
    }
}

#[derive(Default)]
struct Builder {
    desired: DesiredState,
    /// Per product, the region/instance/prune first declared and where.
    settings: BTreeMap<String, DeclaredSettings>,
    /// Per product, the devices the current file declares, in the order declared; merged into
    /// `desired` when the file is done (a bulk merge keeps the maps' nodes full, about half the
    /// memory of inserting a million devices one by one).
    batch: BTreeMap<String, Vec<(String, DeviceSpec)>>,
    /// Group names device entries give, with where and the place of their product.
    group_refs: Vec<fleet::GroupRef>,
    /// Product names DeviceSets give, with where.
    product_refs: Vec<(String, Origin)>,
}

/// A product's settings as first declared (value as text, and where).
#[derive(Default)]
struct DeclaredSettings {
    region: Option<(String, Origin)>,
    instance: Option<(String, Origin)>,
    prune: Option<(String, Origin)>,
}

fn parse_message(error: &serde_saphyr::Error) -> String {
    let text = error.to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let message = match first.find(": ") {
        Some(at) if first.starts_with("line ") => &first[at + 2..],
        _ => first,
    };
    // The parser's advice to its own callers is no advice to a manifest's author.
    message
        .split(", set DuplicateKeyPolicy")
        .next()
        .unwrap_or(message)
        .to_owned()
}

/// Most structural problems one file reports before the rest of it is left unchecked.
const MAX_REPAIRS: usize = 50;

/// The text with line `line` (1-based) commented out, when `message` is a structural problem
/// confined to that line: an unknown key or a value of the wrong type on a line of its own (not
/// a list item's first line, whose removal would merge two items).
fn comment_out(text: &str, line: u64, message: &str) -> Option<String> {
    let structural = [
        "unknown field",
        "invalid type",
        "expected string",
        "invalid boolean",
        "invalid value",
        "expected mapping",
        "expected sequence",
    ]
    .iter()
    .any(|m| message.contains(m));
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    let target = text.lines().nth(index)?;
    let trimmed = target.trim_start();
    if !structural || trimmed.starts_with('-') || trimmed.starts_with('#') || !trimmed.contains(':')
    {
        return None;
    }
    // The key's value must end on this line: lines indented below it would be left orphaned.
    let indent = |l: &str| l.len() - l.trim_start().len();
    let continues = text
        .lines()
        .skip(index + 1)
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .is_some_and(|next| indent(next) > indent(target));
    if continues {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 1);
    for (at, each) in text.split_inclusive('\n').enumerate() {
        if at == index {
            out.push('#');
        }
        out.push_str(each);
    }
    Some(out)
}

/// A document whose `apiVersion` is not iotplan/v1 follows another schema: that is said first,
/// instead of whatever this version's reader makes of its keys.
fn unsupported_api_version(source: &Source) -> Option<Diagnostic> {
    source.text.lines().enumerate().find_map(|(at, line)| {
        let value = line.strip_prefix("apiVersion:")?.trim();
        let value = value.split(" #").next().unwrap_or(value).trim().trim_matches(['"', '\'']);
        (value != API_VERSION && !value.is_empty()).then(|| {
            let column = line.find(value).unwrap_or(0) as u64 + 1;
            source.diagnostic(
                at as u64 + 1,
                column,
                format!("unsupported apiVersion `{value}`: this iotplan reads {API_VERSION}"),
                Some("write `apiVersion: iotplan/v1`, or use the iotplan release that reads this version"),
            )
        })
    })
}

/// `did you mean …?` for an unknown key, from the keys the message says are expected.
fn suggest_key(message: &str) -> Option<String> {
    let unknown = message.split('`').nth(1)?;
    let expected = message.split("expected ").nth(1)?;
    let expected = expected.strip_prefix("one of ").unwrap_or(expected);
    expected
        .split(", ")
        .map(|k| k.trim_matches('`').trim())
        .filter(|k| !k.is_empty())
        .map(|k| (strsim::levenshtein(unknown, k), k))
        .filter(|(distance, k)| *distance <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k.to_owned())
}

fn parse_hint(message: &str) -> Option<String> {
    if message.contains("unknown field") {
        Some(match suggest_key(message) {
            Some(key) => format!(
                "did you mean `{key}`? (see schemas/iotplan-v1.schema.json for the allowed keys)"
            ),
            None => {
                "remove or rename the key; see schemas/iotplan-v1.schema.json for the allowed keys"
                    .to_owned()
            }
        })
    } else {
        parse_hint_fixed(message).map(str::to_owned)
    }
}

fn parse_hint_fixed(message: &str) -> Option<&'static str> {
    if message.contains("expected string") {
        Some("quote the value, e.g. \"3\": names, nicknames and tag values are strings")
    } else if message.contains("duplicate mapping key") {
        Some("a key may appear once per mapping: remove the repeated one")
    } else if message.contains("missing field") {
        Some("add the required key (apiVersion, kind, product; each device needs name)")
    } else if message.contains("expected sequence") {
        Some("`devices` is a list: write each device on its own line as `- name: ...`")
    } else if message.contains("expected mapping") {
        Some("`tags` and `range` are mappings, e.g. `tags: {site: hq}`, `range: {from: 1, to: 10}`")
    } else if message.contains("budget breached") {
        Some(
            "the file is too large for one manifest: split it into several files (each is read on its own), or use the range form for numbered devices",
        )
    } else if message.contains("did not find expected key") {
        Some("check the indentation: the keys of one mapping start in the same column")
    } else if message.contains("invalid boolean") {
        Some("write true or false")
    } else if message.contains("tabs disallowed") {
        Some("indent with spaces; YAML does not allow tabs for indentation")
    } else if message.contains("unclosed quote") || message.contains("quoted scalar") {
        Some("close the quoted string on the same line")
    } else {
        None
    }
}

/// A name template: `prefix{n}suffix` or `prefix{n:WIDTH}suffix`.
struct Template<'a> {
    prefix: &'a str,
    width: usize,
    suffix: &'a str,
}

impl<'a> Template<'a> {
    fn parse(text: &'a str) -> Option<Result<Self, String>> {
        let start = text.find("{n")?;
        let Some(end) = text[start..].find('}').map(|e| start + e) else {
            return Some(Err("an opening `{n` has no closing `}`".to_owned()));
        };
        let inner = &text[start + 2..end];
        let width = match inner.strip_prefix(':') {
            None if inner.is_empty() => 0,
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                digits.parse().unwrap_or(0)
            }
            _ => {
                return Some(Err(format!(
                    "`{{n{inner}}}` is not `{{n}}` or `{{n:WIDTH}}`"
                )));
            }
        };
        Some(Ok(Self {
            prefix: &text[..start],
            width,
            suffix: &text[end + 1..],
        }))
    }

    fn render(&self, n: u64) -> String {
        format!(
            "{}{:0width$}{}",
            self.prefix,
            n,
            self.suffix,
            width = self.width
        )
    }
}

/// Fills `{n}` / `{n:WIDTH}` in a value, if it has one.
fn fill(text: &str, n: u64) -> String {
    match Template::parse(text) {
        Some(Ok(template)) => template.render(n),
        _ => text.to_owned(),
    }
}

impl Builder {
    fn add_file(&mut self, source: &Source, diagnostics: &mut Vec<Diagnostic>) {
        if let Some(diagnostic) = unsupported_api_version(source) {
            diagnostics.push(diagnostic);
            return;
        }
        // A structural problem (an unknown key, a wrong type) stops the reader; its line is then
        // commented out and the file read again, so one run reports every such problem and
        // still checks the rest. Lines keep their numbers, so every location stays exact.
        let mut text = std::borrow::Cow::Borrowed(source.text.as_str());
        let mut repaired = 0;
        let documents = loop {
            let read = reader::plain(&text).map_or_else(|| reader::exact(&text), Ok);
            match read {
                Ok(documents) => break documents,
                Err(error) => {
                    let (line, column) =
                        error.location().map_or((1, 1), |l| (l.line(), l.column()));
                    let message = parse_message(&error);
                    let hint = parse_hint(&message);
                    diagnostics.push(source.diagnostic(
                        line,
                        column,
                        message.clone(),
                        hint.as_deref(),
                    ));
                    match comment_out(&text, line, &message) {
                        Some(next) if repaired < MAX_REPAIRS => {
                            text = std::borrow::Cow::Owned(next);
                            repaired += 1;
                        }
                        _ => return,
                    }
                }
            }
        };
        if documents.is_empty() {
            diagnostics.push(source.diagnostic(
                1,
                1,
                "the file holds no manifest",
                Some("add a DeviceSet, Product or DeviceGroup document, or remove the file"),
            ));
        }
        for document in documents {
            self.add_document(source, document, diagnostics);
        }
        self.merge_batch(source, diagnostics);
    }

    /// Adds the current file's devices to their products, reporting each device declared twice
    /// (once per pair of declarations, so two overlapping ranges give one message).
    fn merge_batch(&mut self, source: &Source, diagnostics: &mut Vec<Diagnostic>) {
        for (product_key, mut batch) in std::mem::take(&mut self.batch) {
            let product = self
                .desired
                .products
                .get_mut(&product_key)
                .expect("the document added its product");
            let product_label = if product.product_key.is_empty() {
                product.label()
            } else {
                format!("product {}", product.product_key)
            };
            // Stable: of two declarations in this file, the earlier stays first.
            batch.sort_by(|a, b| a.0.cmp(&b.0));
            let mut reported = std::collections::HashSet::new();
            let mut duplicates = Vec::new();
            let mut report = |name: &str, again: &Origin, first: &Origin| {
                if reported.insert((again.clone(), first.clone())) {
                    duplicates.push(Diagnostic {
                        message: format!(
                            "device {name} of {product_label} is declared twice; first at {first}"
                        ),
                        hint: Some("declare each device once across all manifests".to_owned()),
                        snippet: source.snippet(again.line.into(), again.column.into()),
                        origin: again.clone(),
                    });
                }
            };
            // In place, so that a million devices are not held twice.
            batch.dedup_by(|(name, again), (first_name, first)| {
                let twice = name == first_name;
                if twice {
                    report(name, &again.origin, &first.origin);
                }
                twice
            });
            batch.retain(|(name, spec)| match product.devices.get(name) {
                Some(first) => {
                    report(name, &spec.origin, &first.origin);
                    false
                }
                None => true,
            });
            duplicates.sort_by_key(|d| (d.origin.line, d.origin.column));
            diagnostics.extend(duplicates);
            let mut merged: BTreeMap<String, DeviceSpec> = batch.into_iter().collect();
            product.devices.append(&mut merged);
        }
    }

    fn add_document(
        &mut self,
        source: &Source,
        doc: ManifestDocument,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        if doc.api_version.value != API_VERSION {
            diagnostics.push(source.at(
                &doc.api_version,
                format!(
                    "unsupported apiVersion `{}`: this iotplan reads {API_VERSION}",
                    doc.api_version.value
                ),
                Some("write `apiVersion: iotplan/v1`"),
            ));
            return;
        }
        match doc.kind.value.as_str() {
            KIND => {}
            PRODUCT_KIND => return self.add_product(source, &doc, diagnostics),
            GROUP_KIND => return self.add_group(source, &doc, diagnostics),
            other => {
                diagnostics.push(source.at(
                    &doc.kind,
                    format!("kind is `{other}`"),
                    Some("write `kind: DeviceSet`, `kind: Product` or `kind: DeviceGroup`"),
                ));
                return;
            }
        }
        fleet::refuse_keys_of_other_kinds(source, &doc, diagnostics);
        let Some(product) = fleet::device_set_product(source, &doc, diagnostics) else {
            return;
        };
        if let crate::model::ProductRef::Named(name) = &product
            && let Some(at) = &doc.product_name
        {
            self.product_refs.push((name.clone(), source.origin_of(at)));
        }
        let key = DesiredState::product_entry(&product);
        let spec = self
            .desired
            .products
            .entry(key.clone())
            .or_insert_with(|| ProductSpec {
                product_key: match &product {
                    crate::model::ProductRef::Key(key) => key.clone(),
                    crate::model::ProductRef::Named(_) => String::new(),
                },
                product_name: match &product {
                    crate::model::ProductRef::Named(name) => Some(name.clone()),
                    crate::model::ProductRef::Key(_) => None,
                },
                region: None,
                instance: None,
                prune: false,
                devices: BTreeMap::new(),
            });
        if let Some(region) = doc
            .region
            .as_ref()
            .filter(|r| !crate::wire::is_valid_region_id(&r.value))
        {
            diagnostics.push(source.at(
                region,
                format!("`{}` is not a region ID", region.value),
                Some("region IDs are lowercase letters, digits and hyphens, e.g. cn-shanghai or ap-southeast-1"),
            ));
        }
        let firsts = self.settings.entry(key.clone()).or_default();
        let region = doc
            .region
            .as_ref()
            .map(|r| (source.origin_of(r), r.value.clone()));
        let instance = doc
            .instance
            .as_ref()
            .map(|i| (source.origin_of(i), i.value.clone()));
        let prune = doc
            .prune
            .as_ref()
            .map(|p| (source.origin_of(p), p.value.to_string()));
        for (what, declared, first) in [
            ("region", region, &mut firsts.region),
            ("instance", instance, &mut firsts.instance),
            ("prune", prune, &mut firsts.prune),
        ] {
            let Some((here, mine)) = declared else {
                continue;
            };
            match first {
                Some((theirs, at)) if *theirs != mine => diagnostics.push(Diagnostic {
                    message: format!("product {key} has {what} {mine} here but {theirs} at {at}"),
                    hint: Some(format!("give every document of product {key} the same {what}, or leave it out of all but one")),
                    snippet: source.snippet(here.line.into(), here.column.into()),
                    origin: here,
                }),
                Some(_) => {}
                None => {
                    match what {
                        "region" => spec.region = Some(mine.clone()),
                        "instance" => spec.instance = Some(mine.clone()),
                        _ => spec.prune = mine == "true",
                    }
                    *first = Some((mine, here));
                }
            }
        }
        let entry_key = key.clone();
        let batch = self.batch.entry(key).or_default();
        batch.reserve(doc.devices.len());
        for entry in doc.devices {
            if let Some(groups) = &entry.value.groups {
                self.group_refs
                    .extend(groups.value.iter().map(|group| fleet::GroupRef {
                        name: group.value.clone(),
                        origin: source.origin_of(group),
                        product: entry_key.clone(),
                    }));
            }
            add_entry(source, entry, batch, diagnostics);
        }
    }
}

/// Validates one device entry and adds the devices it declares (one, or one per number of its
/// range) to `batch`; an entry with a problem adds none.
fn add_entry(
    source: &Source,
    entry: At<DeviceEntry>,
    batch: &mut Vec<(String, DeviceSpec)>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let device = &entry.value;
    let before = diagnostics.len();
    let parsed = Template::parse(&device.name.value);
    let has_placeholder = parsed.is_some();
    let template = match parsed {
        Some(Err(problem)) if device.range.is_some() => {
            diagnostics.push(source.at(
                &device.name,
                problem,
                Some("write `{n}` or `{n:WIDTH}`, e.g. `meter-{n:05}`"),
            ));
            return;
        }
        Some(Ok(template)) => Some(template),
        _ => None,
    };
    let numbers = match (&device.range, has_placeholder) {
        (None, false) => 0..=0,
        (None, true) => {
            diagnostics.push(source.at(
                &device.name,
                format!(
                    "the name `{}` has a `{{n}}` placeholder but no range",
                    device.name.value
                ),
                Some("add `range: {from: 1, to: 100}`, or remove the placeholder"),
            ));
            return;
        }
        (Some(range), false) => {
            diagnostics.push(source.at(
                range,
                "a range needs a `{n}` or `{n:WIDTH}` placeholder in the name",
                Some("write e.g. `name: meter-{n:05}`"),
            ));
            return;
        }
        (Some(range), true) => {
            let Range { from, to } = range.value;
            if from > to {
                diagnostics.push(source.at(
                    range,
                    format!("the range runs from {from} down to {to}"),
                    Some("make `from` at most `to`"),
                ));
                return;
            }
            if to - from + 1 > MAX_RANGE {
                diagnostics.push(source.at(
                    range,
                    format!(
                        "the range expands to {} devices, more than {MAX_RANGE}",
                        to - from + 1
                    ),
                    Some("split the fleet into several ranges or products"),
                ));
                return;
            }
            from..=to
        }
    };
    let is_range = device.range.is_some();
    // Fills `{n}` in a range entry's values; a single device's values stand as written.
    let expand = |text: &str, n: u64| -> String {
        if is_range {
            fill(text, n)
        } else {
            text.to_owned()
        }
    };
    let (first, last) = (*numbers.start(), *numbers.end());
    // Every expansion has the same characters as the first and last; check those two.
    let rendered = template
        .as_ref()
        .map(|template| [template.render(first), template.render(last)]);
    let invalid = match &rendered {
        Some(names) => names
            .iter()
            .map(String::as_str)
            .find(|name| !wire::is_valid_device_name(name)),
        None => Some(device.name.value.as_str()).filter(|name| !wire::is_valid_device_name(name)),
    };
    if let Some(name) = invalid {
        diagnostics.push(source.at(
            &device.name,
            format!("`{name}` is not a valid DeviceName"),
            Some("a DeviceName has 4 to 32 characters of letters, digits and - _ @ . :"),
        ));
    }
    if let Some(nickname) = &device.nickname
        && !nickname.value.is_empty()
    {
        for n in [first, last] {
            let text = expand(&nickname.value, n);
            if !wire::is_valid_nickname(&text, MAX_NICKNAME_WEIGHT) {
                diagnostics.push(source.at(nickname, format!("`{text}` is not a valid nickname"), Some("a nickname has letters, digits, _ and CJK characters (no spaces or -), 4 to 32 long with each CJK character counting 2; write \"\" for no nickname")));
                break;
            }
        }
    }
    if let Some(tags) = &device.tags {
        if tags.value.len() > wire::MAX_TAGS {
            diagnostics.push(source.at(
                tags,
                format!(
                    "{} tags; a device holds at most {}",
                    tags.value.len(),
                    wire::MAX_TAGS
                ),
                Some("remove tags"),
            ));
        }
        for (key, value) in &tags.value {
            if key == wire::RESERVED_TAG_KEY {
                diagnostics.push(source.at(
                    tags,
                    format!("the tag key `{key}` is reserved by the platform and would be dropped"),
                    Some("use another key"),
                ));
            } else if !wire::is_valid_tag_key(key) {
                diagnostics.push(source.at(tags, format!("`{key}` is not a valid tag key"), Some("a tag key has 2 to 32 letters, digits, _ - or ., and does not start with a digit")));
            }
            if expand(value, last).chars().count() > wire::MAX_TAG_VALUE_CHARS {
                diagnostics.push(source.at(
                    tags,
                    format!(
                        "the value of tag `{key}` is longer than {} characters",
                        wire::MAX_TAG_VALUE_CHARS
                    ),
                    Some("shorten it"),
                ));
            }
        }
    }
    let groups = device
        .groups
        .as_ref()
        .and_then(|groups| fleet::entry_groups(source, groups, diagnostics));
    if diagnostics.len() > before {
        return;
    }
    let origin = source.origin_of(&entry);
    let (nickname, enabled, tags) = (
        &entry.value.nickname,
        entry.value.enabled.unwrap_or(true),
        &entry.value.tags,
    );
    let expanded = |tags: &crate::model::Tags, n: u64| -> crate::model::Tags {
        tags.iter()
            .map(|(k, v)| (k.clone(), expand(v, n)))
            .collect()
    };
    // Tags with no `{n}` are the same for every device of the entry: held once.
    let constant = tags
        .as_ref()
        .filter(|tags| expanded(&tags.value, 1) == expanded(&tags.value, 2))
        .map(|tags| std::sync::Arc::new(expanded(&tags.value, 0)));
    let spec = |n: u64| DeviceSpec {
        nickname: nickname.as_ref().map(|nick| expand(&nick.value, n).into()),
        enabled,
        tags: constant.clone().or_else(|| {
            tags.as_ref()
                .map(|tags| std::sync::Arc::new(expanded(&tags.value, n)))
        }),
        groups: groups.clone(),
        origin: origin.clone(),
    };
    match template {
        Some(template) => batch.extend(numbers.map(|n| (template.render(n), spec(n)))),
        None => batch.push((entry.value.name.value, spec(0))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1BwAGV8aWs\nregion: cn-shanghai\nprune: true\ndevices:\n  - name: sensor-0001\n    nickname: Lobby_sensor\n    tags: {site: hq}\n  - name: meter-{n:03}\n    range: {from: 1, to: 12}\n    nickname: Meter_{n}\n    enabled: false\n";

    #[test]
    fn loads_and_expands_ranges() {
        let desired = load_str("good.yaml", GOOD).expect("valid");
        let product = &desired.products["a1BwAGV8aWs"];
        assert!(product.prune);
        assert_eq!(product.region.as_deref(), Some("cn-shanghai"));
        assert_eq!(product.devices.len(), 13);
        let meter = &product.devices["meter-012"];
        assert_eq!(meter.nickname.as_deref(), Some("Meter_12"));
        assert!(!meter.enabled);
        assert_eq!(meter.origin.to_string(), "good.yaml:10:5");
        assert_eq!(
            product.devices["sensor-0001"]
                .tags
                .as_ref()
                .map(|t| t["site"].as_str()),
            Some("hq")
        );
    }

    #[test]
    fn a_range_holds_tags_without_n_once() {
        let text = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1BwAGV8aWs\ndevices:\n  - name: a-{n:03}\n    range: {from: 1, to: 3}\n    tags: {site: hq}\n  - name: b-{n:03}\n    range: {from: 1, to: 2}\n    tags: {room: \"r{n}\"}\n";
        let desired = load_str("m.yaml", text).expect("valid");
        let devices = &desired.products["a1BwAGV8aWs"].devices;
        let tags = |name: &str| devices[name].tags.clone().expect("tags");
        assert!(std::sync::Arc::ptr_eq(&tags("a-001"), &tags("a-003")));
        assert_eq!(tags("b-001")["room"], "r1");
        assert_eq!(tags("b-002")["room"], "r2");
    }

    #[test]
    fn reports_every_problem_with_its_location() {
        let text = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1BwAGV8aWs\ndevices:\n  - name: ab\n  - name: ok-device\n    nickname: has space\n  - name: twice-1\n  - name: tagged\n    tags: {1bad: x, abc: y}\n  - name: twice-1\n";
        let error = load_str("bad.yaml", text).expect_err("invalid");
        let messages: Vec<String> = error
            .diagnostics
            .iter()
            .map(|d| format!("{} {}", d.origin, d.message))
            .collect();
        assert_eq!(messages.len(), 5, "{messages:#?}");
        assert!(
            messages[0].starts_with("bad.yaml:5:11 `ab` is not a valid DeviceName"),
            "{messages:#?}"
        );
        assert!(
            messages[1].starts_with("bad.yaml:7:15 `has space` is not a valid nickname"),
            "{messages:#?}"
        );
        assert!(
            messages[2].starts_with("bad.yaml:10:11 `1bad` is not a valid tag key"),
            "{messages:#?}"
        );
        assert!(messages[3].contains("`abc` is reserved"), "{messages:#?}");
        assert!(messages[4].starts_with("bad.yaml:11:5 device twice-1 of product a1BwAGV8aWs is declared twice; first at bad.yaml:8:5"), "{messages:#?}");
        assert!(error.to_string().contains("hint:"));
    }

    #[test]
    fn snippets_show_the_line_as_written() {
        let text = "apiVersion: iotplan/v1\r\nkind: DeviceSet\r\nproduct: a1BwAGV8aWs\r\ndevices:\r\n  - name: ab";
        let error = load_str("crlf.yaml", text).expect_err("invalid");
        let snippet = error.diagnostics[0].snippet.as_deref().unwrap_or_default();
        assert_eq!(snippet, "  |\n5 |   - name: ab\n  |           ^");
    }

    #[test]
    fn a_flood_of_problems_shows_the_first_hundred_and_counts_the_rest() {
        use std::fmt::Write as _;
        let mut text =
            "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1BwAGV8aWs\ndevices:\n".to_owned();
        let mut devices = String::new();
        for n in 0..3_000 {
            let _ = writeln!(devices, "  - name: device-{n:05}");
        }
        text.push_str(&devices);
        text.push_str(&devices);
        let error = load_str("copied.yaml", &text).expect_err("every device twice");
        assert_eq!(error.diagnostics.len(), 3_000);
        assert_eq!(
            error.diagnostics[2_999].snippet.as_deref(),
            Some("     |\n6004 |   - name: device-02999\n     |     ^")
        );
        let shown = error.to_string();
        assert!(
            shown.starts_with("3000 problems in the manifests:\n"),
            "{shown}"
        );
        assert_eq!(
            shown.matches("is declared twice").count(),
            SHOWN_DIAGNOSTICS
        );
        assert!(
            shown.ends_with(
                "… and 2900 more, not shown; `iotplan validate --format json` lists them all\n"
            ),
            "{shown}"
        );
    }

    #[test]
    fn structural_errors_point_at_the_key() {
        let error = load_str("x.yaml", "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1BwAGV8aWs\ndevices:\n  - name: sensor-01\n    nickame: typo\n").expect_err("unknown key");
        let diagnostic = &error.diagnostics[0];
        assert_eq!((diagnostic.origin.line, diagnostic.origin.column), (6, 5));
        assert!(
            diagnostic.message.contains("unknown field `nickame`"),
            "{}",
            diagnostic.message
        );
        assert!(
            diagnostic
                .snippet
                .as_deref()
                .is_some_and(|s| s.contains("nickame: typo"))
        );
    }

    #[test]
    fn duplicates_and_conflicts_across_documents() {
        let text = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1BwAGV8aWs\nregion: cn-shanghai\ndevices:\n  - name: dup-0001\n---\napiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1BwAGV8aWs\nregion: cn-beijing\ndevices:\n  - name: dup-0001\n";
        let error = load_str("multi.yaml", text).expect_err("conflicts");
        let all = error.to_string();
        assert!(
            all.contains("multi.yaml:11:9: product a1BwAGV8aWs has region cn-beijing here but cn-shanghai at multi.yaml:4:9"),
            "{all}"
        );
        assert!(
            all.contains(
                "dup-0001 of product a1BwAGV8aWs is declared twice; first at multi.yaml:6:5"
            ),
            "{all}"
        );
    }

    #[test]
    fn ranges_have_limits() {
        let text = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1BwAGV8aWs\ndevices:\n  - name: m-{n:07}\n    range: {from: 1, to: 2000000}\n";
        assert!(
            load_str("r.yaml", text)
                .expect_err("too big")
                .to_string()
                .contains("more than 1000000")
        );
        let text = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1BwAGV8aWs\ndevices:\n  - name: meter-{n}\n";
        assert!(
            load_str("r.yaml", text)
                .expect_err("no range")
                .to_string()
                .contains("no range")
        );
    }
}
