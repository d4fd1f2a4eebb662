//! Modal dialogs; each says its keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::centered;
use crate::app::Dialog;

pub fn draw(f: &mut Frame, area: Rect, d: &Dialog) {
    let (title, prompt, input) = match d {
        Dialog::Confirm { prompt, .. } => (" confirm ", prompt.clone(), None),
        Dialog::Typed { prompt, typed, .. } => (" confirm ", prompt.clone(), Some(typed.clone())),
        Dialog::Input { kind, text } => (
            " input ",
            format!("{}; enter submits, esc cancels", kind.prompt()),
            Some(text.clone()),
        ),
    };
    let w = area.width.saturating_sub(4).min(70);
    let h = 6;
    let r = centered(area, w, h);
    let mut lines = vec![Line::raw(prompt)];
    if let Some(t) = input {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!("> {t}_"),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(
            Block::bordered()
                .title(title)
                .border_style(Style::new().fg(Color::Yellow)),
        ),
        r,
    );
}
