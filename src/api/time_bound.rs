//! `messageTimestamp.gte/lte` of the history routes: an ISO date or date-time, or Unix
//! milliseconds (a number or a string of digits), as Evolution clients send them. Its own type
//! so the document says exactly what is accepted, and schema-valid means accepted.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

/// A bound in Unix milliseconds. Instants before 1970 are read as 1970: as a bound they mean
/// "from the start".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBound(pub u64);

impl TimeBound {
    /// The bound in Unix seconds (what messages are stored with).
    pub fn seconds(self) -> u64 {
        self.0 / 1000
    }

    fn parse(v: &Value) -> Option<TimeBound> {
        let ms = match v {
            // A whole number past i64 (JSON parsers read it as a float) is saturated; a
            // fraction or a negative number is no time in milliseconds.
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(ms), _) if ms >= 0 => ms,
                (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 => f as i64,
                _ => return None,
            },
            Value::String(s) => {
                let s = s.trim();
                if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                    t.timestamp_millis()
                } else if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                    d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis()
                } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                    s.parse::<u64>().unwrap_or(u64::MAX).min(i64::MAX as u64) as i64
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        Some(TimeBound(u64::try_from(ms).unwrap_or(0)))
    }
}

fn string(format: Option<&'static str>, pattern: Option<&'static str>) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        format,
        pattern: pattern.map(str::to_owned),
        ..MetaSchema::new("string")
    }))
}

impl Type for TimeBound {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "TimeBound".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some("An ISO date or date-time, or Unix milliseconds."),
            any_of: vec![
                string(Some("date-time"), None),
                string(Some("date"), None),
                string(None, Some(r"^\s*[0-9]+\s*$")),
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    minimum: Some(0.0),
                    ..MetaSchema::new("integer")
                })),
            ],
            ..MetaSchema::ANY
        }))
    }

    fn register(_: &mut Registry) {}

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for TimeBound {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let value = value.unwrap_or_default();
        TimeBound::parse(&value)
            .ok_or_else(|| ParseError::custom("must be a date or a time in milliseconds"))
    }
}

impl ToJSON for TimeBound {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_times_and_milliseconds() {
        let p = |v: Value| TimeBound::parse(&v);
        assert_eq!(
            p(json!(1_700_000_000_123u64)),
            Some(TimeBound(1_700_000_000_123))
        );
        assert_eq!(
            p(json!("1700000000123")),
            Some(TimeBound(1_700_000_000_123))
        );
        assert_eq!(p(json!("2024-01-02")), Some(TimeBound(1_704_153_600_000)));
        assert_eq!(
            p(json!("2024-01-02T00:00:01.5+00:00")),
            Some(TimeBound(1_704_153_601_500))
        );
        assert_eq!(p(json!("1900-01-01")), Some(TimeBound(0)));
        assert_eq!(p(json!(1e300)), Some(TimeBound(i64::MAX as u64)));
        for bad in [
            json!("yesterday"),
            json!(""),
            json!({}),
            json!([1]),
            json!(true),
            json!(-5),
            json!(2.5),
        ] {
            assert_eq!(p(bad), None);
        }
    }
}
