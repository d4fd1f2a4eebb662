use clap::Parser;
use zapgate_tui::app::App;
use zapgate_tui::client::http::Api;
use zapgate_tui::client::stream::now;
use zapgate_tui::config::Args;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let file = args.load_file()?;
    let cfg = args.resolve(&file)?;
    let label = if cfg.name == "-" {
        cfg.url.clone()
    } else {
        format!("{} {}", cfg.name, cfg.url)
    };
    let app = App::new(label, cfg.read_only, now());
    let api = Api::new(&cfg.url, &cfg.apikey, cfg.integration.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(zapgate_tui::term::run(app, api))?;
    // Network tasks may be mid-request; the console is done with them.
    rt.shutdown_background();
    Ok(())
}
