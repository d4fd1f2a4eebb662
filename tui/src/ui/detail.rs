//! One instance: identity, state timeline with reasons, counters, webhook health per endpoint
//! (backlog, last status, failures, dead letters), recent events.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::{age, clock, state_style};
use crate::app::App;
use crate::msg::Endpoint;

/// The webhook panel: one line per endpoint, then the dead letters (and the replay key unless
/// read-only).
fn webhooks<'a>(app: &'a App, name: &str) -> Paragraph<'a> {
    let block = Block::bordered().title(" webhooks ");
    let Some(h) = app.hooks.as_ref().filter(|h| h.name == name) else {
        return Paragraph::new("reading…").block(block);
    };
    let health = match &h.result {
        Ok(health) => health,
        Err(e) => return Paragraph::new(format!("webhook health unavailable: {e}")).block(block),
    };
    let mut lines: Vec<Line> = health.endpoints.iter().map(endpoint).collect();
    let mut letters = vec![Span::raw(format!("dead letters {}", health.dead_letters))];
    if health.dead_letters > 0 {
        letters[0].style = state_style(crate::msg::State::Failed);
        if !app.read_only {
            letters.push(Span::raw("  <R> replay"));
        }
    }
    lines.push(Line::from(letters));
    Paragraph::new(lines).block(block)
}

fn endpoint(e: &Endpoint) -> Line<'static> {
    let failing = e.consecutive_failures > 0 || e.backlog_full;
    let (glyph, style) = match (&e.url, failing) {
        (None, _) => ("-", Style::new().add_modifier(Modifier::DIM)),
        (Some(_), true) => ("✗", state_style(crate::msg::State::Failed)),
        (Some(_), false) => ("●", state_style(crate::msg::State::Open)),
    };
    let Some(url) = &e.url else {
        return Line::from(vec![
            Span::styled(format!("{glyph} {:<9}", e.kind), style),
            Span::styled(
                "no deliveries yet",
                Style::new().add_modifier(Modifier::DIM),
            ),
        ]);
    };
    let last = match (e.last_status, &e.last_error) {
        (_, Some(err)) if failing => err.clone(),
        (Some(s), _) => s.to_string(),
        (None, _) => "-".into(),
    };
    let full = if e.backlog_full { " FULL" } else { "" };
    Line::from(vec![
        Span::styled(format!("{glyph} {:<9}", e.kind), style),
        Span::raw(format!(
            "q {}{full}  last {last}  fails {}  ok {}  dead {}  {url}",
            e.backlog, e.consecutive_failures, e.delivered, e.dead_lettered
        )),
    ])
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, name: &str) {
    let Some(r) = app.fleet.get(name) else {
        f.render_widget(
            Paragraph::new(format!("{name} is gone (deleted?). esc goes back."))
                .block(Block::bordered().title(format!(" {name} "))),
            area,
        );
        return;
    };
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let [info, timeline] =
        Layout::vertical([Constraint::Min(9), Constraint::Length(8)]).areas(left);
    let i = &r.info;
    let dim = |s: &str| Span::styled(format!("{s:<13}"), Style::new().add_modifier(Modifier::DIM));
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut lines = vec![
        Line::from(vec![
            dim("state"),
            Span::styled(
                format!("{} {}", i.state.glyph(), i.state.word()),
                state_style(i.state),
            ),
            Span::raw(format!(" for {}", age(app.now.saturating_sub(r.since)))),
        ]),
        Line::from(vec![dim("number"), Span::raw(opt(&i.number))]),
        Line::from(vec![dim("owner"), Span::raw(opt(&i.owner_jid))]),
        Line::from(vec![dim("profile"), Span::raw(opt(&i.profile_name))]),
        Line::from(vec![dim("engine"), Span::raw(i.engine.clone())]),
        Line::from(vec![dim("last error"), Span::raw(opt(&i.last_error))]),
        Line::from(vec![
            dim("messages"),
            Span::raw(format!(
                "{} stored, {}/m in, {}/m out",
                i.messages,
                r.rate_in.per_min(app.now),
                r.rate_out.per_min(app.now)
            )),
        ]),
    ];
    if let Some(c) = i.counters {
        lines.push(Line::from(vec![
            dim("counters"),
            Span::raw(format!(
                "in {} out {} send errors {} reconnects {}",
                c.messages_in, c.messages_out, c.send_errors, c.reconnects
            )),
        ]));
    }
    lines.push(Line::from(vec![
        dim("flaps (1h)"),
        Span::raw(r.flaps_last_hour(app.now).to_string()),
    ]));
    if let Some(p) = r.pending {
        lines.push(Line::from(vec![dim("pending"), Span::raw(p)]));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(format!(" {name} "))),
        info,
    );
    let steps: Vec<Line> = r
        .timeline
        .iter()
        .rev()
        .take(timeline.height.saturating_sub(2) as usize)
        .map(|t| {
            let reason = t.reason.map(|c| format!(" ({c})")).unwrap_or_default();
            Line::from(vec![
                Span::raw(format!("{} ", clock(t.at))),
                Span::styled(t.state.word(), state_style(t.state)),
                Span::raw(reason),
            ])
        })
        .collect();
    f.render_widget(
        Paragraph::new(steps).block(Block::bordered().title(" timeline ")),
        timeline,
    );
    let [hooks, right] = Layout::vertical([Constraint::Length(6), Constraint::Min(3)]).areas(right);
    f.render_widget(webhooks(app, name), hooks);
    let recent: Vec<Line> = app
        .log
        .window(right.height.saturating_sub(2) as usize, Some(name))
        .into_iter()
        .map(|l| Line::raw(format!("{} {}", clock(l.at), l.text)))
        .collect();
    f.render_widget(
        Paragraph::new(recent).block(Block::bordered().title(" recent events ")),
        right,
    );
}
