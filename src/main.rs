//! The `zapgate` command: `zapgate` / `zapgate serve` runs the server, `zapgate openapi` prints
//! the OpenAPI document.

use std::io::Write;
use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use zapgate::config::Config;

#[derive(Parser)]
#[command(
    name = "zapgate",
    version,
    about = "WhatsApp Web gateway speaking the Evolution API v2 dialect"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Print the OpenAPI document and exit.
    Openapi,
}

fn main() -> anyhow::Result<()> {
    dotenvy::dotenv().ok();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => runtime.block_on(print_openapi()),
        Command::Serve => runtime.block_on(serve(cli.config)),
    }
}

async fn print_openapi() -> anyhow::Result<()> {
    println!("{}", zapgate::spec_for_docs()?);
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_new(config.tracing_filter()).unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let addr = SocketAddr::new(config.bind, config.port);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    zapgate::run(config, listener, shutdown_signal(), |addr, new_key| {
        let mut out = std::io::stdout().lock();
        // Tests and scripts read this line to learn the port.
        let _ = writeln!(out, "listening on {addr}");
        if let Some(k) = new_key {
            let _ = writeln!(
                out,
                "generated global API key (saved in the data dir as `apikey`): {k}"
            );
        }
        let _ = out.flush();
    })
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
