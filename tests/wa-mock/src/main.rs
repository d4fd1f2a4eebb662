//! `wa-mock` binary: runs the mock until Ctrl-C.

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Loopback WhatsApp Web protocol peer for tests")]
struct Args {
    /// Port on 127.0.0.1 (0 = ephemeral).
    #[arg(long, default_value_t = 7000)]
    port: u16,
    /// Directory to persist the Noise static key in.
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "wa_mock=info".into()),
        )
        .init();
    let args = Args::parse();
    let mock = wa_mock::WaMock::start_with(wa_mock::Config {
        port: args.port,
        state_dir: args.state_dir,
    })
    .await?;
    println!("ws: {}", mock.url());
    println!("admin: {}", mock.admin_base());
    tokio::signal::ctrl_c().await?;
    mock.shutdown().await;
    Ok(())
}
