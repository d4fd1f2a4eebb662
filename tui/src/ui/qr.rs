//! The pairing pane: the QR in half blocks, black on white whatever the theme, replaced in place
//! on each `qrcode.updated`; the pairing code when the terminal is too small or no QR is wanted.

use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};

use super::centered;
use crate::app::App;
use crate::msg::State;

pub fn draw(f: &mut Frame, area: Rect, app: &App, name: &str) {
    let block = Block::bordered().title(format!(" pair {name} "));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(r) = app.fleet.get(name) else {
        f.render_widget(Paragraph::new(format!("{name} is gone")), inner);
        return;
    };
    let [top, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    let pairing = r
        .pairing_code
        .as_deref()
        .map(|c| format!("  pairing code: {c}"))
        .unwrap_or_default();
    f.render_widget(
        Paragraph::new(format!(" state: {}{pairing}", r.info.state.word())),
        top,
    );
    let msg = match (&r.qr, r.info.state) {
        (_, State::Open) => "paired: the instance is open. esc goes back.".to_string(),
        (Some(code), _) => match qr_lines(code) {
            Some(lines) => {
                let (w, h) = (lines[0].chars().count() as u16, lines.len() as u16);
                if w <= rest.width && h <= rest.height {
                    let text: Vec<Line> = lines.into_iter().map(Line::raw).collect();
                    f.render_widget(
                        Paragraph::new(text).style(Style::new().fg(Color::Black).bg(Color::White)),
                        centered(rest, w, h),
                    );
                    return;
                }
                format!(
                    "the QR needs {w}x{h} cells; this pane has {}x{}. Enlarge the terminal, or p to pair by code.",
                    rest.width, rest.height
                )
            }
            None => "the QR code could not be drawn; p to pair by code.".into(),
        },
        (None, State::Refused) => "QR limit reached: c to start again.".into(),
        (None, _) => "waiting for a QR code…".into(),
    };
    f.render_widget(
        Paragraph::new(msg).wrap(ratatui::widgets::Wrap { trim: true }),
        rest,
    );
}

fn qr_lines(code: &str) -> Option<Vec<String>> {
    let qr = QrCode::with_error_correction_level(code, EcLevel::L).ok()?;
    let text = qr.render::<Dense1x2>().quiet_zone(true).build();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    (!lines.is_empty()).then_some(lines)
}
