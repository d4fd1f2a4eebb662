use clap::Parser;
use zapgate_tui::app::App;
use zapgate_tui::client::http::Api;
use zapgate_tui::client::stream::now;
use zapgate_tui::config::Args;
use zapgate_tui::term::Switcher;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let file = args.load_file()?;
    let cfg = args.resolve(&file)?;
    let app = App::new(cfg.label(), cfg.read_only, now());
    let api = Api::new(&cfg.url, &cfg.apikey, cfg.integration.clone());
    let switcher: Switcher = Box::new(move |name| {
        let to = args.switch_to(&file, name).map_err(|e| e.to_string())?;
        let api = Api::new(&to.url, &to.apikey, to.integration.clone());
        Ok((to.label(), to.read_only, api))
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(zapgate_tui::term::run(app, api, switcher))?;
    // Network tasks may be mid-request; the console is done with them.
    rt.shutdown_background();
    Ok(())
}
