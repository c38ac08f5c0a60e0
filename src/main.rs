//! The `nextgenrdp` binary: parses the command line and hands over to the library.

use clap::Parser;
use nextgenrdp::cli::{Cli, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    nextgenrdp::telemetry::init(cli.common.log_format);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
