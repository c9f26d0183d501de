//! The `iotplan` binary: parse, set up logging and the runtime, run, print the error chain once.

use std::process::ExitCode;

use clap::Parser as _;
use iotplan::cli::{self, Cli};
use iotplan::exit::ExitStatus;
use iotplan::platform;
use tracing_subscriber::EnvFilter;

/// Logs go to stderr, colored only where stderr is (the `--color` decision), with timestamps
/// from `-v` on; at the default verbosity only warnings (retries as they happen), one plain line each.
fn init_tracing(verbose: u8, ansi: bool) {
    let default = match verbose {
        0 => "warn",
        1 => "warn,iotplan=debug",
        // Only iotplan's own events: HTTP libraries may log URLs, which carry the STS token.
        _ => "warn,iotplan=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false);
    if verbose == 0 && std::env::var_os("RUST_LOG").is_none() {
        builder.without_time().init();
    } else {
        builder.init();
    }
}

fn hint_of(error: &anyhow::Error) -> Option<&'static str> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<platform::Error>()?.hint())
}

/// Prints the error chain once on stderr, and, for a command asked for JSON, as the error
/// document on stdout too, so stdout is always one document.
#[allow(clippy::print_stderr, clippy::print_stdout)]
fn report(error: &anyhow::Error, json: bool) {
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("Caused by: {cause}");
    }
    let hint = hint_of(error);
    if let Some(hint) = hint {
        eprintln!("hint: {hint}");
    }
    if json {
        print!("{}", cli::error_document(error, hint));
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(
        cli.global.verbose,
        cli.global.color_choice().enabled_on_stderr(),
    );
    let json = cli.command.wants_json();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            report(&error.into(), json);
            return ExitStatus::Failure.into();
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(status) => status.into(),
        Err(error) => {
            report(&error, json);
            ExitStatus::Failure.into()
        }
    }
}
