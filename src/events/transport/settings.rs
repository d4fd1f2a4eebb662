//! The event transports' settings, with Evolution's variable names (`RABBITMQ_*`, `NATS_*`) and
//! ours (`ZAPGATE_NATS_STREAM`, `ZAPGATE_BROKER_*`); flattened into
//! [`Config`](crate::config::Config).

use std::collections::HashSet;
use std::time::Duration;

use clap::Args;
use clap::builder::BoolishValueParser;

use crate::events::EventKind;

#[derive(Debug, Clone, Args)]
pub struct TransportSettings {
    /// Turns the RabbitMQ transport on (`/rabbitmq/set` answers 400 while it is off).
    #[arg(long, env = "RABBITMQ_ENABLED", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub rabbitmq_enabled: bool,

    /// `amqp://user:pass@host:5672/vhost` (or `amqps://`). Never logged: it holds a password.
    #[arg(long, env = "RABBITMQ_URI", default_value = "", hide_env_values = true)]
    pub rabbitmq_uri: String,

    /// The global exchange (topic, durable), used with `RABBITMQ_GLOBAL_ENABLED`.
    #[arg(
        long,
        env = "RABBITMQ_EXCHANGE_NAME",
        default_value = "evolution_exchange"
    )]
    pub rabbitmq_exchange_name: String,

    /// Publish the events switched on by `RABBITMQ_EVENTS_<NAME>=true` of every instance to
    /// the global exchange, into queues `{RABBITMQ_PREFIX_KEY}.{event}`.
    #[arg(long, env = "RABBITMQ_GLOBAL_ENABLED", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub rabbitmq_global_enabled: bool,

    /// Prefix of the global queues' names; empty: the queue is the dotted event name.
    #[arg(long, env = "RABBITMQ_PREFIX_KEY", default_value = "")]
    pub rabbitmq_prefix_key: String,

    /// Largest AMQP frame proposed to the broker, in bytes (Evolution's default).
    #[arg(long, env = "RABBITMQ_FRAME_MAX", default_value_t = 8192)]
    pub rabbitmq_frame_max: u32,

    /// Turns the NATS transport on (`/nats/set` answers 400 while it is off).
    #[arg(long, env = "NATS_ENABLED", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub nats_enabled: bool,

    /// `nats://host:4222` (a comma-separated list is accepted). May hold credentials.
    #[arg(long, env = "NATS_URI", default_value = "", hide_env_values = true)]
    pub nats_uri: String,

    /// Publish the events switched on by `NATS_EVENTS_<NAME>=true` of every instance to
    /// `{NATS_PREFIX_KEY}.{event}`.
    #[arg(long, env = "NATS_GLOBAL_ENABLED", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub nats_global_enabled: bool,

    /// First subject token of the global subjects; empty: the subject is the dotted event.
    #[arg(long, env = "NATS_PREFIX_KEY", default_value = "")]
    pub nats_prefix_key: String,

    /// Ours: the JetStream stream that stores what zapgate publishes to NATS; every publish
    /// then waits for the stream's ack, and an event leaves the outbox only once it is stored.
    /// Created when missing (file storage, 7 days), left as it is when it exists. Empty: plain
    /// core NATS publishes, counted delivered once a flush returns (the server has them; a
    /// subscriber that is not connected at that moment never sees them).
    #[arg(long, env = "ZAPGATE_NATS_STREAM", default_value = "EVOLUTION")]
    pub nats_stream: String,

    /// socket.io on this server's port (`/socket.io/`): namespace `/{instance}` gets the events
    /// an instance subscribed to with `/websocket/set`.
    #[arg(long, env = "WEBSOCKET_ENABLED", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub websocket_enabled: bool,

    /// Also emit every event of every instance on the main namespace `/` (global key only).
    #[arg(long, env = "WEBSOCKET_GLOBAL_EVENTS", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub websocket_global_events: bool,

    /// Ours: longest wait for a broker's confirms (or a connection) before the attempt counts
    /// as "broker unreachable" and the batch is published again later.
    #[arg(long, env = "ZAPGATE_BROKER_TIMEOUT_MS", default_value_t = 10_000)]
    pub broker_timeout_ms: u64,

    /// Ours: longest pause between two attempts to reach a broker that is down.
    #[arg(long, env = "ZAPGATE_BROKER_RETRY_MAX_MS", default_value_t = 5_000)]
    pub broker_retry_max_ms: u64,
}

impl TransportSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.broker_timeout_ms.max(100))
    }

    pub fn retry_max(&self) -> Duration {
        Duration::from_millis(self.broker_retry_max_ms.max(50))
    }
}

/// The event kinds switched on by `<PREFIX><NAME>=true` in the process environment (read once at
/// start-up), e.g. `RABBITMQ_EVENTS_MESSAGES_UPSERT`. Both `GROUP_UPDATE` and `GROUPS_UPDATE`
/// switch on `groups.update` (Evolution reads `..._GROUPS_UPDATE` into a key it then never
/// matches; we deliver it).
pub fn switched_on(prefix: &str) -> HashSet<EventKind> {
    switched_on_in(prefix, std::env::vars())
}

fn switched_on_in(
    prefix: &str,
    vars: impl Iterator<Item = (String, String)>,
) -> HashSet<EventKind> {
    vars.filter_map(|(name, value)| {
        let event = name.strip_prefix(prefix)?;
        let on = matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "on"
        );
        on.then(|| EventKind::parse(event)).flatten()
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_event_switches() {
        let vars = [
            ("RABBITMQ_EVENTS_MESSAGES_UPSERT", "true"),
            ("RABBITMQ_EVENTS_GROUPS_UPDATE", "1"),
            ("RABBITMQ_EVENTS_CALL", "false"),
            ("NATS_EVENTS_SEND_MESSAGE", "true"),
            ("RABBITMQ_EVENTS_NOPE", "true"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let on = switched_on_in("RABBITMQ_EVENTS_", vars.into_iter());
        assert_eq!(
            on,
            HashSet::from([EventKind::MessagesUpsert, EventKind::GroupsUpdate])
        );
    }
}
