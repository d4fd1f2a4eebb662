//! The `zapgate` command: `zapgate` / `zapgate serve` runs the server, `zapgate openapi` prints
//! the OpenAPI document, `zapgate compact` compacts a stopped server's data dir.

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
    /// Compact the data dir's database (the server must be stopped): a copy of the live rows
    /// replaces a log full of superseded pages.
    Compact,
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
        Command::Compact => compact(&cli.config),
    }
}

fn compact(config: &Config) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let c = zapgate::store::compact::compact(&config.data_dir, config.storage_compression)?;
    let mib = |b: u64| b as f64 / 1_048_576.0;
    println!(
        "compacted {}: {:.1} MiB -> {:.1} MiB, {} rows, in {:.1} s",
        config.data_dir.display(),
        mib(c.before),
        mib(c.after),
        c.rows,
        started.elapsed().as_secs_f64()
    );
    Ok(())
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

/// Installs the SIGTERM/Ctrl-C handlers now, before the "listening" line is printed: a handler
/// installed on first poll left a window where SIGTERM killed the process outright, skipping
/// the flush.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = wait(term) => {},
                _ = wait(interrupt) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
    }
}
