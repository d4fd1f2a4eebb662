//! The operations side of the sessions dialect: fleet stats, active / connected / problematic
//! lists, one session's details (timeline, counters, errors), resetting its attempts, a health
//! check through the engine, and removing inactive sessions. Global key only. The per-instance
//! numbers come from the instance layer and from the fleet summary's rows (`summary.rs`).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

use super::auth::ApiKey;
use super::sessions::{Answer, Tag, answer, list};
use super::sessions_dto::*;
use super::summary::{rfc3339, row};
use crate::instance::ConnectionState;
use crate::instance::problems::Thresholds;
use crate::state::AppState;

/// `cleanup-inactive`'s default: sessions unused for a day.
const DEFAULT_INACTIVE_MINUTES: u64 = 1440;

pub struct SessionOpsApi {
    pub state: Arc<AppState>,
}

#[OpenApi(tag = "Tag::Sessions")]
impl SessionOpsApi {
    /// Totals: sessions by state, messages, reconnects, uptime, memory.
    #[oai(
        path = "/sessions/stats",
        method = "get",
        operation_id = "sessions_stats"
    )]
    async fn stats(&self, key: ApiKey) -> Answer<StatsAnswer> {
        self.state.require_global(&key)?;
        let now = Utc::now();
        let (mut messages_in, mut messages_out, mut send_errors, mut reconnects) = (0, 0, 0, 0);
        for h in self.state.registry.all() {
            let (r, _) = row(&h, now);
            messages_in += r.messages_in;
            messages_out += r.messages_out;
            send_errors += r.send_errors;
            reconnects += r.reconnects;
        }
        Ok(Json(StatsAnswer {
            success: true,
            stats: SessionStats {
                sessions: self.state.registry.counts().into(),
                max_sessions: self.state.config.session_limit().map(|m| m as u64),
                messages_in,
                messages_out,
                send_errors,
                reconnects,
                uptime_seconds: self.state.started.elapsed().as_secs(),
                rss_bytes: memory_stats::memory_stats()
                    .map(|m| m.physical_mem as u64)
                    .unwrap_or(0),
            },
        }))
    }

    /// Sessions that run (`connecting` or `open`).
    #[oai(
        path = "/sessions/active",
        method = "get",
        operation_id = "sessions_active"
    )]
    async fn active(&self, key: ApiKey) -> Answer<SessionList> {
        self.state.require_global(&key)?;
        let all = self.state.registry.all();
        Ok(list(
            all.into_iter().filter(|h| h.state_glance().0.has_session()),
        ))
    }

    /// Sessions that are `open`.
    #[oai(
        path = "/sessions/connected",
        method = "get",
        operation_id = "sessions_connected"
    )]
    async fn connected(&self, key: ApiKey) -> Answer<SessionList> {
        self.state.require_global(&key)?;
        let all = self.state.registry.all();
        Ok(list(
            all.into_iter()
                .filter(|h| h.state_glance().0 == ConnectionState::Open),
        ))
    }

    /// Sessions that need an operator, each with its reasons: failed, refused, stuck
    /// connecting, flapping, silent while open (limits in `thresholds`).
    #[oai(
        path = "/sessions/problematic",
        method = "get",
        operation_id = "sessions_problematic"
    )]
    async fn problematic(&self, key: ApiKey) -> Answer<ProblemList> {
        self.state.require_global(&key)?;
        let c = &self.state.config;
        let t = Thresholds::from_config(c);
        let sessions: Vec<ProblemRow> = self
            .state
            .registry
            .all()
            .into_iter()
            .filter_map(|h| {
                let problems = h.problems(&t);
                if problems.is_empty() {
                    return None;
                }
                let view = h.view();
                Some(ProblemRow {
                    id: h.name().to_string(),
                    state: view.state.state.as_str().into(),
                    since: rfc3339(view.state.since),
                    problems: problems.into_iter().map(ProblemDto::from).collect(),
                    last_error: view.last_error.clone(),
                    reconnect_attempts: h.reconnect_attempts(),
                })
            })
            .collect();
        Ok(Json(ProblemList {
            success: true,
            total: sessions.len() as u64,
            thresholds: ProblemThresholds {
                flap_threshold: c.flap_threshold,
                flap_window_minutes: t.flap_window.as_secs() / 60,
                stuck_connecting_secs: t.stuck_connecting.as_secs(),
                silent_open_minutes: t.silent_open.map_or(0, |d| d.as_secs() / 60),
            },
            sessions,
        }))
    }

    /// One session in depth: its state timeline, counters, last errors and last health check.
    #[oai(
        path = "/sessions/:id/details",
        method = "get",
        operation_id = "session_details"
    )]
    async fn details(
        &self,
        key: ApiKey,
        #[oai(validator(max_length = 100))] id: Path<String>,
    ) -> Answer<DetailsAnswer> {
        let h = self.state.session(&key, &id)?;
        let vitals = h.vitals();
        let (summary, _) = row(&h, Utc::now());
        Ok(Json(DetailsAnswer {
            success: true,
            session: SessionInfo::of(&h),
            integration: h.view().record.integration.as_str().into(),
            summary,
            timeline: vitals.timeline.into_iter().map(Into::into).collect(),
            last_errors: vitals.errors.into_iter().map(Into::into).collect(),
            last_health_check: vitals.last_check.map(Into::into),
        }))
    }

    /// Forget the reconnect attempts counted so far.
    #[oai(
        path = "/sessions/:id/reset-attempts",
        method = "post",
        operation_id = "session_reset_attempts"
    )]
    async fn reset_attempts(
        &self,
        key: ApiKey,
        #[oai(validator(max_length = 100))] id: Path<String>,
    ) -> Answer<SessionAnswer> {
        let h = self.state.session(&key, &id)?;
        h.reset_attempts();
        Ok(answer(&h, "Reconnect attempts reset"))
    }

    /// Ping WhatsApp through the session's engine; the result is recorded (see `details`). A
    /// session that is not open is answered `healthy:false` without a ping.
    #[oai(
        path = "/sessions/:id/health-check",
        method = "post",
        operation_id = "session_health_check"
    )]
    async fn health_check(
        &self,
        key: ApiKey,
        #[oai(validator(max_length = 100))] id: Path<String>,
    ) -> Answer<HealthCheckAnswer> {
        let h = self.state.session(&key, &id)?;
        let check = h.health_check().await;
        Ok(Json(HealthCheckAnswer {
            success: true,
            session_id: h.name().to_string(),
            state: h.state_glance().0.as_str().into(),
            check: check.into(),
        }))
    }

    /// Remove the sessions that have no running session (`close`, `refused`, `failed`) and
    /// were last open (or created) at least `inactive_minutes` ago.
    #[oai(
        path = "/sessions/cleanup-inactive",
        method = "post",
        operation_id = "sessions_cleanup_inactive"
    )]
    async fn cleanup_inactive(
        &self,
        key: ApiKey,
        /// Minutes since the last use; 1440 (a day) when absent.
        #[oai(validator(minimum(value = "0"), maximum(value = "52560000")))]
        inactive_minutes: Query<Option<u64>>,
        /// List what would be removed without removing it.
        dry_run: Query<Option<bool>>,
    ) -> Answer<CleanupAnswer> {
        self.state.require_global(&key)?;
        let minutes = inactive_minutes.0.unwrap_or(DEFAULT_INACTIVE_MINUTES);
        let idle = Duration::from_secs(minutes * 60);
        let registry = &self.state.registry;
        let removed = if dry_run.0 == Some(true) {
            registry
                .idle(idle)
                .iter()
                .map(|h| h.name().to_string())
                .collect()
        } else {
            registry.remove_idle(idle, "cleanup-inactive").await
        };
        let verb = if dry_run.0 == Some(true) {
            "would be removed"
        } else {
            "removed"
        };
        Ok(Json(CleanupAnswer {
            success: true,
            message: format!(
                "{} session(s) {verb}: unused for {minutes} min",
                removed.len()
            ),
            removed,
        }))
    }
}
