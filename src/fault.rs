//! Fault injection for black-box tests: named points where a test build can be told to fail.
//!
//! Only a binary built with the `fault-injection` feature reads `ZAPGATE_FAULTS`; every other
//! build compiles [`hit`] to `false`, so no release binary carries a way to make it panic. The
//! variable lists `point=subject` pairs separated by `;` (for example
//! `delivery_panic=/boom;actor_panic=alice`); a point fires when the subject it is asked about
//! contains the configured text. Tests that need it are gated on the feature and run by
//! `.ci/run` with `--features fault-injection`.

/// The places a fault can be injected. Each names what its subject is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// A webhook delivery task panics; subject: the endpoint URL.
    DeliveryPanic,
    /// An instance actor panics while handling a command; subject: the instance name.
    ActorPanic,
}

impl Point {
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    fn name(self) -> &'static str {
        match self {
            Point::DeliveryPanic => "delivery_panic",
            Point::ActorPanic => "actor_panic",
        }
    }
}

/// Whether the fault at `point` is configured for `subject`.
#[cfg(feature = "fault-injection")]
pub fn hit(point: Point, subject: &str) -> bool {
    use std::sync::OnceLock;
    // Read once: the set is fixed for the life of a test process.
    static FAULTS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    FAULTS
        .get_or_init(|| {
            std::env::var("ZAPGATE_FAULTS")
                .unwrap_or_default()
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .map(|(p, s)| (p.trim().to_string(), s.trim().to_string()))
                .collect()
        })
        .iter()
        .any(|(p, s)| p == point.name() && !s.is_empty() && subject.contains(s.as_str()))
}

/// Whether the fault at `point` is configured for `subject`: never, in this build.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn hit(_point: Point, _subject: &str) -> bool {
    false
}
