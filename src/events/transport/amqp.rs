//! RabbitMQ over AMQP 0-9-1 (lapin), Evolution's topology: a durable topic exchange (the
//! instance's name, or `RABBITMQ_EXCHANGE_NAME` for global events), a durable quorum queue
//! `{instance|prefix}.{event}` bound to it with the dotted event as routing key, and every
//! message published with that routing key.
//!
//! One connection and one channel in confirm mode for the whole transport. Each batch is
//! published in a row and then its confirms are awaited: an ack means RabbitMQ has the message
//! (a quorum queue acks once a majority has written it), and only then does the row leave the
//! outbox. Topology is declared once per connection (Evolution declares it for every event).

use std::collections::HashSet;
use std::time::Duration;

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::uri::AMQPUri;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use tokio::sync::Mutex;

use super::{Outcome, Publisher, TransportSettings, prefixed};
use crate::store::outbox::{EndpointTarget, OutboxRow, TargetKind};

pub(super) struct Amqp {
    uri: String,
    frame_max: u32,
    timeout: Duration,
    /// The global exchange and the queues of the switched-on global events, declared on
    /// connect (as Evolution does at start-up) so a consumer can bind before the first event.
    global: Option<(String, String)>,
    /// The connection, while it works. Held across a batch: batches are published one at a
    /// time, which keeps each endpoint's order on the one channel.
    live: Mutex<Option<Live>>,
}

struct Live {
    /// Kept so the connection lives as long as its channel.
    _conn: Connection,
    channel: Channel,
    /// Queues declared (with their exchange and binding) on this connection.
    declared: HashSet<String>,
}

/// Where one row goes.
struct Address {
    exchange: ShortString,
    queue: ShortString,
    routing_key: ShortString,
}

impl Amqp {
    pub(super) fn new(
        s: &TransportSettings,
        global: Option<&std::sync::Arc<EndpointTarget>>,
    ) -> Amqp {
        let global = global.and_then(|t| match &t.kind {
            TargetKind::Rabbitmq {
                exchange,
                queue_prefix,
            } => Some((exchange.clone(), queue_prefix.clone())),
            _ => None,
        });
        Amqp {
            uri: s.rabbitmq_uri.clone(),
            frame_max: s.rabbitmq_frame_max,
            timeout: s.timeout(),
            global,
            live: Mutex::new(None),
        }
    }

    async fn connect(&self) -> Result<Live, String> {
        let mut uri: AMQPUri = self
            .uri
            .parse()
            .map_err(|e| format!("RABBITMQ_URI is not an AMQP URI: {e}"))?;
        if uri.query.frame_max.is_none() {
            uri.query.frame_max = Some(self.frame_max.max(4096));
        }
        let props = ConnectionProperties::default().with_connection_name("zapgate".into());
        let conn = Connection::connect_uri(uri, props)
            .await
            .map_err(|e| describe(&e))?;
        let channel = conn.create_channel().await.map_err(|e| describe(&e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| describe(&e))?;
        let mut live = Live {
            _conn: conn,
            channel,
            declared: HashSet::new(),
        };
        if let Some((exchange, prefix)) = &self.global {
            for kind in super::settings::switched_on("RABBITMQ_EVENTS_") {
                let address = address(exchange, prefix, kind.dotted())?;
                live.declare(&address).await.map_err(|e| describe(&e))?;
            }
        }
        Ok(live)
    }
}

#[async_trait::async_trait]
impl Publisher for Amqp {
    async fn publish(&self, rows: &[OutboxRow]) -> Vec<Outcome> {
        let mut out: Vec<Option<Outcome>> = vec![None; rows.len()];
        let mut guard = self.live.lock().await;
        if guard
            .as_ref()
            .is_some_and(|l| !l.channel.status().connected())
        {
            *guard = None;
        }
        if guard.is_none() {
            match tokio::time::timeout(self.timeout, self.connect()).await {
                Ok(Ok(live)) => *guard = Some(live),
                Ok(Err(why)) => return unavailable(out, &why),
                Err(_) => return unavailable(out, "connecting timed out"),
            }
        }
        let Some(live) = guard.as_mut() else {
            return unavailable(out, "no connection");
        };
        let mut pending = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let address = match row_address(row) {
                Ok(a) => a,
                Err(why) => {
                    out[i] = Some(Outcome::Rejected(why));
                    continue;
                }
            };
            if let Err(e) = live.declare(&address).await {
                if e.is_amqp_soft_error() {
                    // The broker refused this topology (say, the queue exists with other
                    // arguments) and closed the channel: refuse these rows, reconnect for the
                    // rest of the batch next time.
                    out[i] = Some(Outcome::Rejected(format!(
                        "declaring queue {}: {}",
                        address.queue,
                        describe(&e)
                    )));
                }
                *guard = None;
                return unavailable(out, &describe(&e));
            }
            let props = BasicProperties::default()
                .with_content_type("application/json".into())
                .with_delivery_mode(2)
                .with_message_id(row.webhook_id().into())
                .with_timestamp(row.created_at_ms / 1000);
            match live
                .channel
                .basic_publish(
                    address.exchange,
                    address.routing_key,
                    BasicPublishOptions::default(),
                    row.body.as_bytes(),
                    props,
                )
                .await
            {
                Ok(confirm) => pending.push((i, confirm)),
                Err(e) => {
                    *guard = None;
                    return unavailable(out, &describe(&e));
                }
            }
        }
        let confirmed = tokio::time::timeout(self.timeout, async {
            for (i, confirm) in pending {
                out[i] = Some(match confirm.await {
                    Ok(Confirmation::Ack(_) | Confirmation::NotRequested) => Outcome::Confirmed,
                    Ok(Confirmation::Nack(_)) => {
                        Outcome::Rejected("RabbitMQ did not accept the message (nack)".into())
                    }
                    Err(e) => Outcome::Unavailable(describe(&e)),
                });
            }
        })
        .await;
        if confirmed.is_err() {
            *guard = None;
            return unavailable(out, "no publisher confirm in time");
        }
        if out
            .iter()
            .any(|o| matches!(o, Some(Outcome::Unavailable(_))))
        {
            *guard = None;
        }
        unavailable(out, "not published")
    }
}

impl Live {
    /// Declares the exchange, the quorum queue and their binding, once per connection.
    async fn declare(&mut self, a: &Address) -> Result<(), lapin::Error> {
        if self.declared.contains(a.queue.as_str()) {
            return Ok(());
        }
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        self.channel
            .exchange_declare(
                a.exchange.clone(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        let queue = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        self.channel
            .queue_declare(a.queue.clone(), queue, args)
            .await?;
        self.channel
            .queue_bind(
                a.queue.clone(),
                a.exchange.clone(),
                a.routing_key.clone(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        self.declared.insert(a.queue.to_string());
        Ok(())
    }
}

fn row_address(row: &OutboxRow) -> Result<Address, String> {
    match &row.target.kind {
        TargetKind::Rabbitmq {
            exchange,
            queue_prefix,
        } => address(exchange, queue_prefix, &row.event),
        other => Err(format!("not a RabbitMQ target: {other:?}")),
    }
}

fn address(exchange: &str, prefix: &str, event: &str) -> Result<Address, String> {
    let short =
        |s: String| ShortString::try_new(s).map_err(|e| format!("name too long for AMQP: {e}"));
    Ok(Address {
        exchange: short(exchange.to_string())?,
        queue: short(prefixed(prefix, event))?,
        routing_key: short(event.to_string())?,
    })
}

/// Fills every row not yet settled with "unavailable".
fn unavailable(out: Vec<Option<Outcome>>, why: &str) -> Vec<Outcome> {
    out.into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Unavailable(why.to_string())))
        .collect()
}

/// A lapin error without the URI (it may hold a password).
fn describe(e: &lapin::Error) -> String {
    format!("RabbitMQ: {e}")
}
