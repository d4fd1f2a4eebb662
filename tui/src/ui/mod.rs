//! Drawing: reads the [`App`], never changes what it means (it only rebuilds a stale view and
//! records how many rows fit). One pane per file.

mod detail;
mod dialog;
mod events;
mod fleet;
mod header;
mod help;
mod pulse;
mod qr;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::{App, Mode, Route, keys};
use crate::msg::{LinkState, State};

pub fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    if area.width < 20 || area.height < 6 {
        f.render_widget(Paragraph::new("terminal too small"), area);
        return;
    }
    let banner = banner_text(app);
    let [head, ban, body, bar] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(u16::from(banner.is_some())),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(f, head, app);
    if let Some(text) = banner {
        f.render_widget(
            Paragraph::new(text).style(
                Style::new()
                    .fg(Color::White)
                    .bg(Color::Red)
                    .add_modifier(Modifier::BOLD),
            ),
            ban,
        );
    }
    match app.route().clone() {
        Route::Fleet => fleet::draw(f, body, app),
        Route::Detail(name) => detail::draw(f, body, app, &name),
        Route::Events => events::draw(f, body, app),
        Route::Qr(name) => qr::draw(f, body, app, &name),
        Route::Pulse => pulse::draw(f, body, app),
    }
    draw_bar(f, bar, app);
    if let Mode::Dialog(d) = &app.mode {
        dialog::draw(f, body, d);
    }
    if app.help {
        help::draw(f, body, app);
    }
}

/// Shown when the data on screen is not live.
fn banner_text(app: &App) -> Option<String> {
    match app.link {
        LinkState::Reconnecting { in_s } => Some(format!(
            " server unreachable: {} — retrying in {in_s}s; the data below is stale",
            app.server
        )),
        _ => None,
    }
}

/// The bottom line: the input being typed, a status, or the key bar from the binding table.
fn draw_bar(f: &mut Frame, area: Rect, app: &App) {
    let line = match (&app.mode, &app.status) {
        (Mode::Filter(t), _) => Line::from(vec![
            Span::styled("/", bold()),
            Span::raw(t.clone()),
            cursor(),
        ]),
        (Mode::Command(t), _) => Line::from(vec![
            Span::styled(":", bold()),
            Span::raw(t.clone()),
            cursor(),
        ]),
        (_, Some(s)) => Line::styled(
            format!(" {}", s.text),
            if s.error {
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
            } else {
                Style::new().fg(Color::Green)
            },
        ),
        _ => key_bar(app, area.width),
    };
    f.render_widget(Paragraph::new(line), area);
}

/// The hinted bindings that fit in `width`; `?` and `q` always stay (they lead to the rest).
pub(crate) fn key_bar(app: &App, width: u16) -> Line<'static> {
    let mut hints: Vec<&keys::Binding> = keys::visible(app.bindings(), app.read_only)
        .filter(|b| b.hint)
        .collect();
    let len = |h: &[&keys::Binding]| -> usize {
        h.iter()
            .map(|b| b.keys.chars().count() + b.label.chars().count() + 3)
            .sum()
    };
    while len(&hints) > width as usize {
        let Some(drop) = hints
            .iter()
            .rposition(|b| !matches!(b.action, keys::Action::Help | keys::Action::Quit))
        else {
            break;
        };
        hints.remove(drop);
    }
    let mut spans = Vec::new();
    for b in hints {
        spans.push(Span::styled(
            format!(" <{}>", b.keys),
            Style::new().fg(Color::Cyan),
        ));
        spans.push(Span::raw(b.label));
    }
    Line::from(spans)
}

fn bold() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

fn cursor() -> Span<'static> {
    Span::styled(" ", Style::new().add_modifier(Modifier::REVERSED))
}

pub(crate) fn state_style(s: State) -> Style {
    match s {
        State::Failed => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        State::Refused => Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        State::Connecting => Style::new().fg(Color::Yellow),
        State::Close => Style::new().fg(Color::Gray),
        State::Open => Style::new().fg(Color::Green),
    }
}

/// `42s`, `3m12s`, `5h03m`, `2d4h`.
pub fn age(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A rectangle of at most `w`×`h` centred in `area`.
pub(crate) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// `hh:mm:ss` UTC.
pub fn clock(at: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        at % 86_400 / 3600,
        at % 3600 / 60,
        at % 60
    )
}
