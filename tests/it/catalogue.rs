//! The catalogue of mistakes in `tests/manifests/bad/` (one file or folder each, whose first line
//! says `# expect: FILE:LINE: text`): each is refused with that location, that text and a hint,
//! never panics, and never reaches the platform. The examples validate against the JSON Schema.
//! Both YAML readers (plain and serde-saphyr) read every case and example alike.

use std::path::{Path, PathBuf};

use iotplan::manifest;

use crate::support::{TestEnv, iotplan, text};

struct Case {
    path: PathBuf,
    file: String,
    line: u32,
    message: String,
}

fn catalogue() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/bad");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("catalogue folder")
        .map(|entry| entry.expect("entry").path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let first_file = if path.is_dir() {
                path.join("a.yaml")
            } else {
                path.clone()
            };
            let bytes = std::fs::read(&first_file).expect("case file");
            let header =
                String::from_utf8_lossy(bytes.split(|&b| b == b'\n').next().unwrap_or_default())
                    .into_owned();
            let expect = header
                .strip_prefix("# expect: ")
                .unwrap_or_else(|| panic!("{} has no `# expect:` line", first_file.display()));
            let mut parts = expect.splitn(3, ':');
            let (file, line, message) = (
                parts.next().expect("file").to_owned(),
                parts
                    .next()
                    .expect("line")
                    .trim()
                    .parse()
                    .expect("line number"),
                parts.next().expect("message").trim().to_owned(),
            );
            Case {
                path,
                file,
                line,
                message,
            }
        })
        .collect()
}

#[test]
fn every_mistake_is_refused_with_its_file_line_and_a_hint() {
    let cases = catalogue();
    assert!(cases.len() >= 30, "the catalogue has {} cases", cases.len());
    for case in &cases {
        let error = manifest::load(std::slice::from_ref(&case.path))
            .err()
            .unwrap_or_else(|| panic!("{} was accepted", case.path.display()));
        let found = error.diagnostics.iter().find(|d| {
            d.origin.file.ends_with(&case.file)
                && d.origin.line == case.line
                && d.message.contains(&case.message)
        });
        // Whatever the fast reader takes from a mistake, serde-saphyr reads the same.
        for file in walkdir::WalkDir::new(&case.path).into_iter().flatten() {
            let text = String::from_utf8_lossy(&std::fs::read(file.path()).unwrap_or_default())
                .into_owned();
            if let Some(fast) = manifest::reader::plain(&text) {
                let slow = manifest::reader::exact(&text);
                assert_eq!(Some(fast), slow.ok(), "{}", file.path().display());
            }
        }
        let Some(diagnostic) = found else {
            panic!(
                "{}: expected {}:{}: {}, got {:#?}",
                case.path.display(),
                case.file,
                case.line,
                case.message,
                error.diagnostics
            );
        };
        assert!(
            diagnostic.hint.is_some(),
            "{}: no hint says what to do",
            case.path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_mistake_reaches_the_platform() {
    let env = TestEnv::fast()
        .await
        .with_products(&["a1Lights", "a1Meters"]);
    let cwd = Path::new(env!("CARGO_MANIFEST_DIR"));
    for case in catalogue() {
        let path = case.path.display().to_string();
        for command in ["validate", "plan"] {
            let output = iotplan(&env, cwd, &[command, &path]).await;
            let stderr = text(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{command} {path}: {stderr}");
            assert!(
                stderr.contains(&format!("{}:{}:", case.file, case.line)),
                "{command} {path}: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{command} {path}: {stderr}");
        }
    }
    assert!(
        env.running.emulator.requests().is_empty(),
        "a bad manifest reached the platform"
    );
}

#[test]
fn examples_validate_against_the_json_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("schemas/iotplan-v1.schema.json")).expect("schema"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut checked = 0;
    for entry in walkdir::WalkDir::new(root.join("examples")).sort_by_file_name() {
        let entry = entry.expect("entry");
        let path = entry.path();
        if !path.extension().is_some_and(|e| e == "yaml" || e == "yml") || is_pipeline(path) {
            continue;
        }
        let yaml = std::fs::read_to_string(path).expect("example");
        let documents: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(&yaml).expect("example parses as YAML");
        for document in documents {
            let errors: Vec<String> = validator
                .iter_errors(&document)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            checked += 1;
        }
        assert!(
            manifest::load(&[path.to_owned()]).is_ok(),
            "{}",
            path.display()
        );
        assert_eq!(
            manifest::reader::plain(&yaml),
            manifest::reader::exact(&yaml).ok(),
            "{}: the plain-YAML reader does not read the example as serde-saphyr does",
            path.display()
        );
    }
    assert!(checked >= 2, "only {checked} example documents found");
    // And the schema does refuse what iotplan refuses.
    let wrong: serde_json::Value = serde_json::json!({
        "apiVersion": "iotplan/v1", "kind": "DeviceSet", "product": "a1Lights",
        "devices": [{"name": "lamp-01", "nickame": "typo"}]
    });
    assert!(
        !validator.is_valid(&wrong),
        "an unknown key passes the schema"
    );
}

/// CI pipeline files live in `examples/` too but are not manifests.
fn is_pipeline(path: &Path) -> bool {
    path.components().any(|c| {
        let c = c.as_os_str();
        c == ".github" || c == "ci"
    }) || path.file_name().is_some_and(|n| n == ".gitlab-ci.yml")
}
