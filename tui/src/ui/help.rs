//! `?`: every binding of the current view, from the same table the dispatcher uses.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph};

use super::centered;
use crate::app::{App, keys};

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let mut lines: Vec<Line> = keys::visible(app.bindings(), app.read_only)
        .map(|b| Line::raw(format!(" {:<7} {}", b.keys, b.label)))
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::raw(
        " filter: text, regex (^a.*), state word, problems; ! inverts",
    ));
    lines.push(Line::raw(" commands: :problems :events :pulse :fleet :q"));
    lines.push(Line::raw(
        " :sort KEY :filter X :server NAME (↑/↓: history)",
    ));
    if !app.read_only {
        lines.push(Line::raw(
            " :create N :connect N :restart N :logout N :delete N",
        ));
    }
    lines.push(Line::raw(" any key closes this help"));
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = centered(area, 60, h);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" help ")),
        r,
    );
}
