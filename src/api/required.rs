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
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;

use super::error::ApiError;

#[derive(Debug, Clone, PartialEq)]
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

/// An optional body field that, unlike a plain `Option`, takes only the JSON type the document
/// gives it (poem-openapi's `String` also takes numbers and booleans and turns them into text,
/// so a profile name `false` became the name "false"). `null` means absent.
#[derive(Debug, Clone, PartialEq)]
pub struct Optional<T>(pub Option<T>);

/// What `Required` and `Optional` share: the schema of `T` (only `IS_REQUIRED` differs), `null`
/// or absence read as `None`, strict JSON types, and the value as written.
macro_rules! wrapper {
    ($name:ident, $required:expr) => {
        /// Absent; no bound on `T` (a derived `Default` would ask `T: Default`).
        impl<T> Default for $name<T> {
            fn default() -> Self {
                $name(None)
            }
        }

        impl<T> Given<T> for $name<T> {
            fn given(self) -> Option<T> {
                self.0
            }
        }

        impl<T: Type> Type for $name<T> {
            const IS_REQUIRED: bool = $required;

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

        impl<T: ParseFromJSON> ParseFromJSON for $name<T> {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                match value {
                    None | Some(Value::Null) => Ok($name(None)),
                    Some(v) => strict::<T>(v)
                        .map(|v| $name(Some(v)))
                        .map_err(ParseError::propagate),
                }
            }
        }

        impl<T: ToJSON> ToJSON for $name<T> {
            fn to_json(&self) -> Option<Value> {
                self.0.as_ref().and_then(ToJSON::to_json)
            }
        }
    };
}

wrapper!(Required, true);
wrapper!(Optional, false);

/// Parses `v` as `T` after checking it has the JSON type `T`'s schema declares (for inline
/// scalar schemas and arrays of them; objects check their own fields).
fn strict<T: ParseFromJSON>(v: Value) -> ParseResult<T> {
    fn fits(schema: &MetaSchemaRef, v: &Value) -> bool {
        let MetaSchemaRef::Inline(schema) = schema else {
            return true;
        };
        match schema.ty {
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "integer" | "number" => v.is_number(),
            "array" => match (v, &schema.items) {
                (Value::Array(items), Some(item)) => items.iter().all(|i| fits(item, i)),
                (Value::Array(_), None) => true,
                _ => false,
            },
            _ => true,
        }
    }
    if !fits(&T::schema_ref(), &v) {
        return Err(ParseError::expected_type(v));
    }
    T::parse_from_json(Some(v))
}

impl<T: ParseFromParameter> ParseFromParameter for Required<T> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        T::parse_from_parameter(value)
            .map(|v| Required(Some(v)))
            .map_err(ParseError::propagate)
    }

    fn parse_from_parameters<I: IntoIterator<Item = A>, A: AsRef<str>>(
        iter: I,
    ) -> ParseResult<Self> {
        let mut iter = iter.into_iter().peekable();
        if iter.peek().is_none() {
            return Ok(Required(None));
        }
        T::parse_from_parameters(iter)
            .map(|v| Required(Some(v)))
            .map_err(ParseError::propagate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(".{0,4}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Any JSON: never a panic, and a string field takes strings only.
        #[test]
        fn strict_fields_take_only_their_type(v in json()) {
            let is_string = v.is_string();
            let is_null = v.is_null();
            let text = Required::<String>::parse_from_json(Some(v.clone()));
            proptest::prop_assert_eq!(text.is_ok(), is_string || is_null);
            let list = Optional::<Vec<String>>::parse_from_json(Some(v.clone()));
            let all_strings = v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
            proptest::prop_assert_eq!(list.is_ok(), all_strings || is_null);
        }
    }

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
