//! The fleet table. Only the visible slice of the view becomes ratatui rows, so a frame costs
//! the same with 50 instances or 50,000.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Row, Table, TableState};

use super::{age, state_style};
use crate::app::App;
use crate::app::fleet::Row as FleetRow;
use crate::msg::WebhookBrief;

/// Wide columns (number, engine, last error) appear from this width on.
const WIDE: u16 = 120;

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    app.sync_view();
    let body = area.height.saturating_sub(3).max(1) as usize;
    app.page = body;
    let n = app.fleet.current_view().len();
    app.cursor = app.cursor.min(n.saturating_sub(1));
    app.offset = app
        .offset
        .min(app.cursor)
        .max((app.cursor + 1).saturating_sub(body));
    let wide = area.width >= WIDE;
    let now = app.now;
    let slice = &app.fleet.current_view()[app.offset..(app.offset + body).min(n)];
    let rows: Vec<Row> = slice
        .iter()
        .filter_map(|&i| app.fleet.row_at(i))
        .map(|r| row(r, now, wide, app.marks.contains(&r.info.name)))
        .collect();
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(12),
        Constraint::Min(14),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(10),
    ];
    let mut head = vec![
        "", "STATE", "NAME", "SINCE", "FLAPS", "IN/m", "OUT/m", "WEBHOOK",
    ];
    if wide {
        widths.extend([
            Constraint::Length(14),
            Constraint::Length(9),
            Constraint::Fill(1),
        ]);
        head.extend(["NUMBER", "ENGINE", "LAST"]);
    } else {
        widths.push(Constraint::Length(10));
        head.push("LAST");
    }
    let arrow = if app.sort.reversed { "↑" } else { "↓" };
    let filter = if app.filter.is_active() {
        format!(" </{}>", app.filter.text())
    } else {
        String::new()
    };
    let title = format!(
        " instances[{}/{}]{filter} {arrow}{} ",
        n,
        app.fleet.len(),
        app.sort.key.label()
    );
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(Style::new().add_modifier(Modifier::BOLD)))
        .block(Block::bordered().title(Line::from(title)))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected((n > 0).then(|| app.cursor - app.offset));
    f.render_stateful_widget(table, area, &mut state);
}

fn row(r: &FleetRow, now: u64, wide: bool, marked: bool) -> Row<'static> {
    let i = &r.info;
    let style = state_style(i.state);
    let state = match r.pending {
        Some(verb) => format!("{} {verb}…", i.state.glyph()),
        None => format!("{} {}", i.state.glyph(), i.state.word()),
    };
    let mut cells = vec![
        Cell::from(if marked { "*" } else { " " }),
        Cell::from(state).style(style),
        Cell::from(i.name.clone()),
        Cell::from(age(now.saturating_sub(r.since))),
        Cell::from(r.flaps_last_hour(now).to_string()),
        Cell::from(r.rate_in.per_min(now).to_string()),
        Cell::from(r.rate_out.per_min(now).to_string()),
        webhook_cell(i.webhook),
    ];
    let last = i.last_error.clone().unwrap_or_default();
    if wide {
        cells.push(Cell::from(i.number.clone().unwrap_or_default()));
        cells.push(Cell::from(i.engine.clone()));
    }
    cells.push(Cell::from(last).style(style));
    let row = Row::new(cells);
    if i.state.is_problem() || i.webhook.is_some_and(|w| w.is_problem()) {
        row.style(Style::new().add_modifier(Modifier::BOLD))
    } else {
        row
    }
}

/// Backlog and last status of the instance's webhook, red while deliveries fail.
fn webhook_cell(w: Option<WebhookBrief>) -> Cell<'static> {
    match w {
        Some(w) if w.is_problem() => Cell::from(w.label()).style(Style::new().fg(Color::Red)),
        Some(w) => Cell::from(w.label()),
        None => Cell::from("-").style(Style::new().add_modifier(Modifier::DIM)),
    }
}
