//! The event log pane.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};

use super::clock;
use crate::app::App;

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let n = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = app
        .log
        .window(n, None)
        .into_iter()
        .map(|l| Line::raw(format!("{} {:<20} {}", clock(l.at), l.instance, l.text)))
        .collect();
    let mode = if app.log.follow { "follow" } else { "paused" };
    let filter = if app.log.filter.is_empty() {
        String::new()
    } else {
        format!(" </{}>", app.log.filter)
    };
    let title = format!(" events[{}] {mode}{filter} ", app.log.len());
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}
