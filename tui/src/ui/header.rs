//! Two header lines: which server and how it is, then counts by state.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{age, state_style};
use crate::app::App;
use crate::msg::{LinkState, State};

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let i = &app.info;
    let mut top = vec![Span::styled(
        format!(" zapgate {}", app.server),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if let Some(v) = &i.version {
        top.push(Span::raw(format!("  v{v}")));
    }
    if let Some(u) = i.uptime_s {
        top.push(Span::raw(format!("  up {}", age(u))));
    }
    if let Some(r) = i.rss_bytes {
        top.push(Span::raw(format!("  rss {}M", r / (1 << 20))));
    }
    top.push(Span::raw(" │ "));
    let (word, style) = match app.link {
        LinkState::Starting => ("CONNECTING".to_string(), Style::new().fg(Color::Yellow)),
        LinkState::Live => (
            "LIVE".to_string(),
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        ),
        LinkState::Polling => (
            "POLLING".to_string(),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ),
        LinkState::Reconnecting { in_s } => (
            format!("RECONNECTING {in_s}s"),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
    };
    top.push(Span::styled(word, style));
    top.push(Span::raw(format!(" {} ev/s", app.log.per_sec(app.now))));
    if let Some((backlog, failing)) = app.fleet.webhook_totals() {
        top.push(Span::raw(format!(" │ webhooks {backlog} waiting")));
        if failing > 0 {
            top.push(Span::styled(
                format!(", {failing} failing"),
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            ));
        }
    }
    if app.fleet.frozen {
        top.push(Span::raw(" │ "));
        top.push(Span::styled(
            "FROZEN",
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ));
    }
    if app.read_only {
        top.push(Span::raw(" │ "));
        top.push(Span::styled(
            "RO",
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ));
    }
    let mut counts = vec![Span::raw(" ")];
    for s in State::ALL {
        let n = app.fleet.count(s);
        let style = if n > 0 && s.is_problem() {
            state_style(s)
        } else {
            Style::new()
        };
        counts.push(Span::styled(format!("{} {n}  ", s.word()), style));
    }
    if !app.marks.is_empty() {
        counts.push(Span::styled(
            format!("marked {}", app.marks.len()),
            Style::new().fg(Color::Cyan),
        ));
    }
    f.render_widget(
        Paragraph::new(vec![Line::from(top), Line::from(counts)]),
        area,
    );
}
