//! The OpenAPI document as served at `/openapi.json`, printed by `zapgate openapi` and
//! committed: poem-openapi's, with one correction that makes it tell the truth.
//!
//! poem-openapi reads `null` as "absent" for every optional field and writes absent optional
//! response fields as `null` (Evolution's shapes rely on it: `webhookWaBusiness: null`), but it
//! does not mark those properties `nullable`. A client generated from the bare document, or
//! schemathesis, would reject our own answers. Every property that is not `required` is marked
//! `nullable` here.

use serde_json::{Map, Value, json};

/// Marks every optional property of every schema in `doc` as nullable.
pub fn mark_optional_nullable(doc: &mut Value) {
    match doc {
        Value::Object(obj) => {
            if let Some(Value::Object(props)) = obj.get("properties") {
                let required: Vec<String> = obj
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| {
                        r.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut props = props.clone();
                for (name, prop) in props.iter_mut() {
                    if !required.contains(name) {
                        make_nullable(prop);
                    }
                }
                obj.insert("properties".into(), Value::Object(props));
            }
            for v in obj.values_mut() {
                mark_optional_nullable(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mark_optional_nullable),
        _ => {}
    }
}

/// A bare `$ref` cannot carry siblings in OpenAPI 3.0, so it is wrapped in `allOf` first.
fn make_nullable(prop: &mut Value) {
    let Value::Object(obj) = prop else { return };
    if obj.contains_key("$ref") {
        let mut wrapper = Map::new();
        wrapper.insert("allOf".into(), json!([{"$ref": obj["$ref"].clone()}]));
        for (k, v) in obj.iter().filter(|(k, _)| *k != "$ref") {
            wrapper.insert(k.clone(), v.clone());
        }
        *obj = wrapper;
    }
    obj.insert("nullable".into(), Value::Bool(true));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_properties_become_nullable() {
        let mut doc = json!({"components": {"schemas": {"A": {
            "type": "object",
            "required": ["x"],
            "properties": {
                "x": {"type": "string"},
                "y": {"type": "string"},
                "z": {"$ref": "#/components/schemas/B"}
            }
        }}}});
        mark_optional_nullable(&mut doc);
        let props = &doc["components"]["schemas"]["A"]["properties"];
        assert!(props["x"].get("nullable").is_none());
        assert_eq!(props["y"]["nullable"], true);
        assert_eq!(
            props["z"],
            json!({"allOf": [{"$ref": "#/components/schemas/B"}], "nullable": true})
        );
    }
}
