//! Filter and sort rules over fleet rows.

use std::cmp::Ordering;

use regex::Regex;

use super::fleet::Row;
use crate::msg::{State, UnixSecs};

/// `/` input: a state word (`failed`), a regex (when it has regex syntax and compiles), or a
/// case-insensitive substring of the name or number; a leading `!` inverts any of them.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    text: String,
    invert: bool,
    kind: Matcher,
}

#[derive(Debug, Clone, Default)]
enum Matcher {
    #[default]
    All,
    State(State),
    /// `problems`: failed, refused, stuck connecting, or a webhook failing.
    Problems,
    Regex(Regex),
    Substring(String),
}

impl Filter {
    pub fn parse(text: &str) -> Filter {
        let (invert, body) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let body = body.trim();
        let kind = if body.is_empty() {
            Matcher::All
        } else if body == "problems" {
            Matcher::Problems
        } else if let Some(s) = State::ALL.iter().find(|s| s.word() == body) {
            Matcher::State(*s)
        } else if body.chars().any(|c| "^$.*+?()[]{}|\\".contains(c)) {
            match Regex::new(&format!("(?i){body}")) {
                Ok(r) => Matcher::Regex(r),
                Err(_) => Matcher::Substring(body.to_lowercase()),
            }
        } else {
            Matcher::Substring(body.to_lowercase())
        };
        Filter {
            text: text.to_string(),
            invert,
            kind,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_active(&self) -> bool {
        !matches!(self.kind, Matcher::All) || self.invert
    }

    pub fn matches(&self, row: &Row) -> bool {
        let hit = match &self.kind {
            Matcher::All => true,
            Matcher::State(s) => row.info.state == *s,
            Matcher::Problems => {
                row.info.state.is_problem()
                    || row.info.state == State::Connecting
                    || row.info.webhook.is_some_and(|w| w.is_problem())
            }
            Matcher::Regex(r) => r.is_match(&row.info.name),
            Matcher::Substring(s) => {
                row.name_lc.contains(s.as_str())
                    || row
                        .info
                        .number
                        .as_deref()
                        .is_some_and(|n| n.contains(s.as_str()))
            }
        };
        hit != self.invert
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Problems first (failed, refused, connecting, close, open), then name.
    State,
    Name,
    /// Time in state, longest first.
    Age,
    /// Messages per minute, in plus out, busiest first.
    Msgs,
    /// Flaps in the last hour, most first.
    Flaps,
    /// Webhook backlog, largest first.
    Webhook,
}

impl SortKey {
    pub fn label(self) -> &'static str {
        match self {
            SortKey::State => "STATE",
            SortKey::Name => "NAME",
            SortKey::Age => "AGE",
            SortKey::Msgs => "MSGS",
            SortKey::Flaps => "FLAPS",
            SortKey::Webhook => "WEBHOOK",
        }
    }

    pub fn parse(word: &str) -> Option<SortKey> {
        match word {
            "state" => Some(SortKey::State),
            "name" => Some(SortKey::Name),
            "age" => Some(SortKey::Age),
            "msgs" => Some(SortKey::Msgs),
            "flaps" => Some(SortKey::Flaps),
            "webhook" => Some(SortKey::Webhook),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub reversed: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            key: SortKey::State,
            reversed: false,
        }
    }
}

impl Sort {
    /// The same key again flips the direction; another key starts in its natural direction.
    pub fn toggle(self, key: SortKey) -> Sort {
        Sort {
            key,
            reversed: key == self.key && !self.reversed,
        }
    }

    pub fn cmp(self, a: &Row, b: &Row, now: UnixSecs) -> Ordering {
        let primary = match self.key {
            // Within a state, rows whose webhook is failing come first.
            SortKey::State => {
                let hook = |r: &Row| r.info.webhook.is_some_and(|w| w.is_problem());
                a.info
                    .state
                    .rank()
                    .cmp(&b.info.state.rank())
                    .then_with(|| hook(b).cmp(&hook(a)))
            }
            SortKey::Name => Ordering::Equal,
            SortKey::Age => a.since.cmp(&b.since),
            SortKey::Msgs => {
                let m = |r: &Row| r.rate_in.per_min(now) + r.rate_out.per_min(now);
                m(b).cmp(&m(a))
            }
            SortKey::Flaps => b.flaps_last_hour(now).cmp(&a.flaps_last_hour(now)),
            SortKey::Webhook => {
                let backlog = |r: &Row| r.info.webhook.map_or(0, |w| w.backlog);
                backlog(b).cmp(&backlog(a))
            }
        };
        let total = primary.then_with(|| a.info.name.cmp(&b.info.name));
        if self.reversed {
            total.reverse()
        } else {
            total
        }
    }
}
