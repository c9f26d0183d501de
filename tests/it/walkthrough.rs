//! Keeps README's walkthrough true: every ```console block there is run, in order, in a copy of
//! `examples/` against the emulator, and its stdout must be what the block shows.

use std::path::Path;

use crate::support::{TestEnv, iotplan, now_ms, text};

/// The walkthrough's commands (`$ iotplan …`) with the stdout README shows for each.
fn blocks(readme: &str) -> Vec<(Vec<String>, String)> {
    let section = readme
        .split("\n## Walkthrough\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has a Walkthrough section");
    section
        .split("```console\n")
        .skip(1)
        .map(|block| {
            let block = block.split("```").next().expect("closed block");
            let (command, output) = block.split_once('\n').expect("a command line");
            let args = command
                .strip_prefix("$ iotplan ")
                .expect("blocks start with `$ iotplan`")
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            (args, output.to_owned())
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("entry");
        let target = to.join(entry.path().strip_prefix(from).expect("inside"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("dir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walkthrough_prints_what_it_shows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let blocks = blocks(&readme);
    assert!(blocks.len() >= 5, "{} blocks", blocks.len());

    // The emulator starts from the seed the README gives for rehearsing the walkthrough.
    let env = TestEnv::fast().await;
    let seed = iotplan::emulator::seed::Seed::load(&root.join("examples/emulator-seed.json"))
        .expect("the walkthrough's seed loads");
    env.running
        .emulator
        .with_store(|store| seed.apply(store, now_ms()));
    let repo = tempfile::tempdir().expect("tmp");
    copy_dir(&root.join("examples"), repo.path());

    for (args, shown) in blocks {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = iotplan(&env, repo.path(), &args).await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "iotplan {}: {}",
            args.join(" "),
            text(&output.stderr)
        );
        similar_asserts_eq(&args.join(" "), &shown, &text(&output.stdout));
    }
}

/// Compares README's output with the real one, showing a line diff when they differ.
fn similar_asserts_eq(command: &str, shown: &str, printed: &str) {
    if shown != printed {
        let diff = similar::TextDiff::from_lines(shown, printed)
            .unified_diff()
            .header("README", "iotplan")
            .to_string();
        panic!("README's output of `iotplan {command}` is out of date:\n{diff}");
    }
}
