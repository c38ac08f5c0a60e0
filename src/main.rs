//! The `nextgenrdp` binary: parses the command line and hands over to the library.

use clap::Parser;
use nextgenrdp::cli::{Cli, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // A `.env` file in the working directory (see `.env.example`) fills in settings the
    // environment does not set; a variable already set wins. Only this directory's: a `.env` of
    // some parent directory is never read.
    let dotenv = dotenvy::from_path(".env");
    let cli = Cli::parse();
    nextgenrdp::telemetry::init(cli.common.log_format);
    match dotenv {
        Ok(()) => tracing::info!("settings read from ./.env (the environment's own win)"),
        Err(err) if err.not_found() => {}
        Err(err) => {
            eprintln!("error: .env: {err}");
            return std::process::ExitCode::FAILURE;
        }
    }
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
