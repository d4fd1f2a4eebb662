//! Keeps an instance's actor alive. A panic inside the actor (a bug, never a client's input) is
//! caught, counted and logged, and a fresh actor takes over the same command queue, from the
//! last persisted record. Without this, a panicked actor would leave its instance half alive:
//! sends still working through the shared session, inbound messages no longer stored, every
//! command answered "shutting down".
//!
//! The dead actor's session is closed (nobody reads its events any more; acks it withheld stay
//! withheld, so WhatsApp redelivers those messages to the next session) and a paired instance is
//! reconnected. The command being handled when the panic hit is answered with `Gone` (503);
//! queued commands wait for the new actor. Panics in a row back off, so a bug that fires on
//! every start cannot spin.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{mpsc, watch};

use super::actor::{Actor, Command, Resume};
use super::handle::{InstanceView, Shared};
use super::vitals::Transition;
use super::{ConnectionState, Timed};
use crate::health::Fault;
use crate::store::instances::InstanceRecord;

/// Panics this close together count as "in a row".
const CALM_AFTER: Duration = Duration::from_secs(60);
/// Longest pause before restarting an actor that keeps panicking.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Runs the instance's actor until it stops on its own (delete, shutdown, queue closed).
pub(super) async fn supervise(
    shared: Arc<Shared>,
    record: InstanceRecord,
    view: watch::Sender<InstanceView>,
    mut cmds: mpsc::Receiver<Command>,
) {
    let mut record = record;
    let mut resume = None;
    let mut in_a_row = 0u32;
    loop {
        let started = tokio::time::Instant::now();
        let actor = Actor::new(shared.clone(), record, view.clone());
        let outcome = AssertUnwindSafe(actor.run(&mut cmds, resume))
            .catch_unwind()
            .await;
        let Err(panic) = outcome else { return };
        let what = panic_text(panic.as_ref());
        tracing::error!(instance = %shared.name, panic = %what, "instance actor panicked; restarting it");
        let session = shared.session.write().take();
        if let Some(session) = session {
            session.close().await;
        }
        record = (*view.borrow().record).clone();
        resume = Some(Resume {
            reconnect: record.paired,
            reason: format!("internal fault, instance restarted: {what}"),
        });
        let from = view.borrow().state.state;
        let closed = Timed::now(ConnectionState::Close);
        view.send_modify(|v| {
            v.qr = Default::default();
            v.state = closed;
        });
        shared.vitals.transition(
            from,
            Transition {
                at: closed.since,
                state: ConnectionState::Close,
                code: 500,
                reason: Some(format!("internal fault: {what}")),
            },
        );
        // Counted once the view says closed, so whoever sees the count sees the restart.
        shared
            .deps
            .store
            .faults()
            .record(Fault::ActorPanic, format!("{}: {what}", shared.name));
        in_a_row = if started.elapsed() > CALM_AFTER {
            1
        } else {
            in_a_row + 1
        };
        if in_a_row > 1 {
            let pause = Duration::from_millis(250u64 << in_a_row.min(7)).min(MAX_BACKOFF);
            tokio::time::sleep(pause).await;
        }
    }
}

/// The message a panic carried, when it was a string.
fn panic_text(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_read() {
        let p = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        assert_eq!(panic_text(p.as_ref()), "boom 1");
        let p = std::panic::catch_unwind(|| std::panic::panic_any(7u8)).unwrap_err();
        assert_eq!(panic_text(p.as_ref()), "a panic without a message");
    }
}
