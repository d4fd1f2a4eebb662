//! zapgate-tui: the operator console. A pure HTTP client of a zapgate (or Evolution API) server.
//!
//! Elm architecture: network tasks and the terminal produce [`msg::Msg`]s; [`app::App::update`]
//! is the only code that changes state and returns [`msg::Cmd`]s for the loop in [`term`] to run;
//! [`ui::draw`] reads the state and builds only the rows that fit on screen.

pub mod app;
pub mod client;
pub mod config;
pub mod msg;
pub mod term;
pub mod ui;
