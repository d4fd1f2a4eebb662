//! The pulse pane: shapes over time (events/s, open, problems) and the noisiest and most
//! flapping instances now. The top lists scan the fleet, only while this pane is on screen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Sparkline};

use crate::app::App;
use crate::app::fleet::Row;

/// Instances in each top list.
const TOP: usize = 8;

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let [charts, tops] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
    let [ev, open, bad] = Layout::vertical([Constraint::Ratio(1, 3); 3]).areas(charts);
    let p = &app.pulse;
    let mut spark =
        |ring: &std::collections::VecDeque<u64>, title: String, color: Color, a: Rect| {
            let width = a.width.saturating_sub(2) as usize;
            let data: Vec<u64> = ring.iter().rev().take(width).rev().copied().collect();
            let w = Sparkline::default()
                .data(&data)
                .style(Style::new().fg(color))
                .block(Block::bordered().title(title));
            f.render_widget(w, a);
        };
    let last = |r: &std::collections::VecDeque<u64>| r.back().copied().unwrap_or(0);
    spark(
        &p.events,
        format!(" events/s  now {} ", last(&p.events)),
        Color::Cyan,
        ev,
    );
    spark(
        &p.open,
        format!(" open  now {} ", last(&p.open)),
        Color::Green,
        open,
    );
    spark(
        &p.problems,
        format!(" failed + refused  now {} ", last(&p.problems)),
        Color::Red,
        bad,
    );
    let [noisy, flappy] = Layout::vertical([Constraint::Ratio(1, 2); 2]).areas(tops);
    let now = app.now;
    let msgs = |r: &Row| u64::from(r.rate_in.per_min(now) + r.rate_out.per_min(now));
    let flaps = |r: &Row| r.flaps_last_hour(now) as u64;
    f.render_widget(top(app, " busiest (msgs/min) ", msgs), noisy);
    f.render_widget(top(app, " flapping (last hour) ", flaps), flappy);
}

fn top<'a>(app: &'a App, title: &'a str, score: impl Fn(&Row) -> u64) -> Paragraph<'a> {
    let mut best: Vec<(u64, &str)> = app
        .fleet
        .rows()
        .map(|r| (score(r), r.info.name.as_str()))
        .filter(|(s, _)| *s > 0)
        .collect();
    best.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let lines: Vec<Line> = best
        .into_iter()
        .take(TOP)
        .map(|(s, n)| Line::raw(format!("{s:>6}  {n}")))
        .collect();
    Paragraph::new(lines).block(Block::bordered().title(title))
}
