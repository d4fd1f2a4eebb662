//! `Required<T>`: a body field the OpenAPI document lists as required, whose absence the handler
//! still reports in Evolution's words.
//!
//! poem-openapi answers a missing required field with its own parse error, before the handler
//! runs; Evolution clients expect `instance requires property "text"` (the nested-array
//! validation message). A plain `Option<T>` gives the handler that choice but makes the document
//! claim the field is optional, which is a lie every client generator and schemathesis trips
//! over. This type is both: required in the document, `Option` to the handler.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use super::error::ApiError;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Required<T>(pub Option<T>);

impl<T> Required<T> {
    /// The value, or Evolution's validation error naming `field`.
    pub fn take(self, field: &str) -> Result<T, ApiError> {
        self.0
            .ok_or_else(|| ApiError::Validation(format!("instance requires property \"{field}\"")))
    }

    pub fn as_ref(&self) -> Option<&T> {
        self.0.as_ref()
    }

    pub fn into_option(self) -> Option<T> {
        self.0
    }
}

/// A field that may be missing: a plain `Option` or a [`Required`]. Lets one `required()`
/// helper serve both while fields move to `Required`.
pub trait Given<T> {
    fn given(self) -> Option<T>;
}

impl<T> Given<T> for Option<T> {
    fn given(self) -> Option<T> {
        self
    }
}

impl<T> Given<T> for Required<T> {
    fn given(self) -> Option<T> {
        self.0
    }
}

impl<T: Type> Type for Required<T> {
    const IS_REQUIRED: bool = true;

    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().and_then(Type::as_raw_value)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Some(v) => v.raw_element_iter(),
            None => Box::new(std::iter::empty()),
        }
    }

    fn is_none(&self) -> bool {
        self.0.is_none()
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Required<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None | Some(Value::Null) => Ok(Required(None)),
            Some(v) => T::parse_from_json(Some(v))
                .map(|v| Required(Some(v)))
                .map_err(ParseError::propagate),
        }
    }
}

impl<T: ToJSON> ToJSON for Required<T> {
    fn to_json(&self) -> Option<Value> {
        self.0.as_ref().and_then(ToJSON::to_json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_and_null_reach_the_handler() {
        assert_eq!(
            Required::<String>::parse_from_json(None).ok(),
            Some(Required(None))
        );
        assert_eq!(
            Required::<String>::parse_from_json(Some(Value::Null)).ok(),
            Some(Required(None))
        );
        let r = Required::<String>::parse_from_json(Some(Value::String("x".into()))).ok();
        assert_eq!(r.and_then(|r| r.take("text").ok()), Some("x".to_string()));
        const { assert!(<Required<String> as Type>::IS_REQUIRED) };
    }
}
