//! `iotplan completions SHELL` and `iotplan man`: generated from the command-line definition, so
//! they never drift from it.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, CommandFactory as _};
use clap_complete::Shell;

use crate::exit::ExitStatus;
use crate::output::Printer;

/// Options of `iotplan completions`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  iotplan completions bash > ~/.local/share/bash-completion/completions/iotplan\n  iotplan completions zsh > \"${fpath[1]}/_iotplan\"\n  iotplan completions fish > ~/.config/fish/completions/iotplan.fish"
)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Options of `iotplan man`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  iotplan man > iotplan.1 && man ./iotplan.1\n  iotplan man --out-dir /usr/local/share/man/man1"
)]
pub struct ManArgs {
    /// Write `iotplan.1` and one `iotplan-COMMAND.1` per command into this folder instead of
    /// printing the main page.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
}

/// Prints the completion script.
pub(super) fn completions(args: &CompletionsArgs, printer: &Printer) -> ExitStatus {
    let mut command = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "iotplan", &mut script);
    printer.out(&String::from_utf8_lossy(&script));
    ExitStatus::Success
}

/// ENVIRONMENT, EXIT STATUS and FILES, which clap does not generate, in roff.
fn extra_sections() -> String {
    let exit_status = [
        (
            "0",
            "success; with --detailed-exitcode, no changes; drift: in sync",
        ),
        (
            "1",
            "error: invalid manifests, refused apply, stale plan, any failed change",
        ),
        (
            "2",
            "plan --detailed-exitcode: there are changes; drift: drift found; or a command line that is refused",
        ),
        ("130", "apply stopped at once by a second Ctrl-C"),
    ];
    let files = [
        (
            "~/.aliyun/config.json",
            "aliyun CLI profiles (read, never written)",
        ),
        (
            "~/.alibabacloud/credentials.ini",
            "credential sections (ALIBABA_CLOUD_CREDENTIALS_FILE)",
        ),
        (
            ".iotplan-drift-ignore",
            "drift ignore rules, one per line (drift --ignore-file)",
        ),
        (
            ".iotplan/journal/PRODUCTKEY.json",
            "open registrations, resumed by the next apply (--journal-dir)",
        ),
        (
            "plan.json",
            "a saved plan (plan --out), applied with apply --plan and shown with show",
        ),
        (
            "secrets.json",
            "DeviceSecrets (--secrets-out, iotplan secrets), mode 0600",
        ),
    ];
    let mut roff = String::new();
    for (heading, items) in [
        ("ENVIRONMENT", super::ENVIRONMENT),
        ("\"EXIT STATUS\"", &exit_status[..]),
        ("FILES", &files[..]),
    ] {
        let _ = writeln!(roff, ".SH {heading}");
        for (term, meaning) in items {
            let _ = writeln!(roff, ".TP\n\\fB{term}\\fR\n{meaning}");
        }
    }
    roff
}

/// Prints the man page, or writes every page into a folder.
///
/// # Errors
/// An unwritable folder.
pub(super) fn man(args: &ManArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let command = super::Cli::command();
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the folder {}", dir.display()))?;
        clap_mangen::generate_to(command, dir)
            .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
        printer.status(&format!("man pages written to {}", dir.display()));
        return Ok(ExitStatus::Success);
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .context("cannot render the man page")?;
    let mut page = String::from_utf8_lossy(&page).into_owned();
    page.push_str(&extra_sections());
    printer.out(&page);
    Ok(ExitStatus::Success)
}
