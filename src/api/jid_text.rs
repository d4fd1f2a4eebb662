//! A number or a JID as clients write it (`5511999999999`, `+55 (11) 99999-9999`,
//! `5511999999999@s.whatsapp.net`, a group id), at most `MAX` characters. Its own type, not a
//! `String` with poem-openapi's `pattern` validator: that validator compiles its regular
//! expression on every check, which was half the CPU of a `sendText` in a profile. The document
//! still carries the pattern, so schema-valid means accepted.

use std::borrow::Cow;
use std::sync::LazyLock;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use regex::Regex;
use serde_json::Value;

/// What a number or JID looks like: something `@` something, or digits with the separators
/// people type. What it names is checked later (`jid`).
pub const JID_PATTERN: &str = r"^(?:\s*[^@\s][^@]*@[\s\S]*\S\s*|\s*[ +()\-]*[0-9][ +()0-9\-]*\s*)$";

static JID_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(JID_PATTERN).expect("the JID pattern compiles"));

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JidText<const MAX: usize>(pub String);

impl<const MAX: usize> std::ops::Deref for JidText<MAX> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> Type for JidText<MAX> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            pattern: Some(JID_PATTERN.to_owned()),
            max_length: Some(MAX),
            ..MetaSchema::new("string")
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

impl<const MAX: usize> ParseFromJSON for JidText<MAX> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) if s.chars().count() <= MAX && JID_RE.is_match(&s) => {
                Ok(JidText(s))
            }
            Some(Value::String(_)) => Err(ParseError::custom(format!(
                "must be a number or a JID of at most {MAX} characters"
            ))),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl<const MAX: usize> ToJSON for JidText<MAX> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_and_jids_pass_and_the_rest_does_not() {
        let p = |v: Value| JidText::<20>::parse_from_json(Some(v)).ok().map(|j| j.0);
        for ok in [
            "5511999999999",
            "+55 (11) 99999-9999",
            "1@g.us",
            " 5@s.whatsapp.net ",
        ] {
            assert_eq!(p(json!(ok)), Some(ok.to_string()));
        }
        for bad in [
            json!(""),
            json!("@x"),
            json!("abc"),
            json!("1".repeat(21)),
            json!(5),
        ] {
            assert_eq!(p(bad), None);
        }
    }
}
