//! The conveniences generated from the command-line definition: `--help` with an example for
//! every command, `--version`, shell completions and man pages.

use std::io::Write as _;
use std::process::{Command, Stdio};

use clap::CommandFactory as _;

fn run(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_iotplan"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn commands() -> Vec<String> {
    iotplan::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect()
}

#[test]
fn every_command_has_help_with_an_example() {
    let commands = commands();
    assert!(commands.len() >= 10, "{commands:?}");
    for command in &commands {
        let (code, help) = run(&[command, "--help"]);
        assert_eq!(code, 0, "{command}");
        assert!(
            help.contains("Example") && help.contains(&format!("iotplan {command}")),
            "`iotplan {command} --help` has no example:\n{help}"
        );
    }
    let (code, version) = run(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(
        version.trim(),
        format!("iotplan {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn completions_know_every_command_and_bash_parses_its_script() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, script) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        for command in commands() {
            assert!(
                script.contains(&command),
                "{shell} completion lacks {command}"
            );
        }
    }
    let (_, script) = run(&["completions", "bash"]);
    let mut bash = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .spawn()
        .expect("bash");
    bash.stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("script");
    assert!(
        bash.wait().expect("bash").success(),
        "bash -n refused the script"
    );
    let (code, _) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2, "an unknown shell is a usage error");
}

#[test]
fn man_pages_cover_every_command() {
    let (code, page) = run(&["man"]);
    assert_eq!(code, 0);
    assert!(page.contains(".TH iotplan 1"), "{page}");
    assert!(page.contains("Declarative provisioning"));
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("man1");
    let (code, _) = run(&["man", "--out-dir", out.to_str().expect("utf-8")]);
    assert_eq!(code, 0);
    for command in commands() {
        let page = std::fs::read_to_string(out.join(format!("iotplan-{command}.1")))
            .unwrap_or_else(|_| panic!("no man page for {command}"));
        assert!(page.contains(&format!(".TH iotplan-{command} 1")), "{page}");
    }
}

#[test]
fn help_puts_a_commands_own_options_first_and_the_man_page_has_environment_exit_status_files() {
    for command in commands() {
        let (_, help) = run(&[&command, "--help"]);
        let client = help
            .find("Client options (every command):")
            .unwrap_or_else(|| panic!("`{command} --help` has no client heading:\n{help}"));
        let own = help.find("Options:").unwrap_or(client);
        assert!(
            own <= client,
            "`{command} --help`: its own options come first:\n{help}"
        );
        assert!(
            !help[..client].contains("--endpoint"),
            "`{command} --help`: client flags only under their heading:\n{help}"
        );
    }
    let (_, help) = run(&["--help"]);
    for name in [
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_SECURITY_TOKEN",
        "IOTPLAN_ENDPOINT",
        "Exit status",
    ] {
        assert!(
            help.contains(name),
            "`iotplan --help` names {name}:\n{help}"
        );
    }
    let (_, page) = run(&["man"]);
    for section in [
        ".SH ENVIRONMENT",
        ".SH \"EXIT STATUS\"",
        ".SH FILES",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "~/.aliyun/config.json",
    ] {
        assert!(page.contains(section), "the man page lacks {section}");
    }
}

/// The README's table of the emulator's operations names every Action it serves, each once and
/// with its quota, and nothing else.
#[test]
fn the_readme_lists_every_emulated_operation_with_its_quota() {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("### Operations it serves")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has the operations table");
    for action in iotplan::wire::Action::ALL {
        let entry = format!("`{}` ({})", action.name(), action.qps());
        assert_eq!(
            section.matches(&entry).count(),
            1,
            "README's operations table lacks {entry} (or lists it twice)"
        );
    }
    let listed = section.matches("` (").count();
    assert_eq!(
        listed,
        iotplan::wire::Action::ALL.len(),
        "the table lists operations the emulator does not serve"
    );
}
