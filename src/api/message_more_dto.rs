//! Request bodies of the round video note, list and button sends (`/message/sendPtv`,
//! `sendList`, `sendButtons`). Every text and array field has a cap, enforced by the parser.

use poem_openapi::Object;

use super::message::Meta;
use super::required::Required;

/// `POST /message/sendPtv` body.
#[derive(Object, Debug)]
pub struct SendPtvBody {
    /// An MP4 video, URL or base64; sent as a round video note without transcoding.
    pub video: Required<String>,
    #[oai(flatten)]
    pub meta: Meta,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct ListRowBody {
    #[oai(validator(max_length = 256))]
    pub title: Required<String>,
    /// Cut to 72 characters, as Evolution does.
    #[oai(validator(max_length = 1024))]
    pub description: Option<String>,
    #[oai(validator(max_length = 256))]
    pub row_id: Required<String>,
}

#[derive(Object, Debug)]
pub struct ListSectionBody {
    #[oai(validator(max_length = 256))]
    pub title: Required<String>,
    #[oai(validator(max_items = 10))]
    pub rows: Required<Vec<ListRowBody>>,
}

/// `POST /message/sendList` body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SendListBody {
    #[oai(validator(max_length = 1024))]
    pub title: Required<String>,
    #[oai(validator(max_length = 4096))]
    pub description: Option<String>,
    #[oai(validator(max_length = 256))]
    pub footer_text: Required<String>,
    /// The label of the button that opens the list.
    #[oai(validator(max_length = 64))]
    pub button_text: Required<String>,
    #[oai(validator(max_items = 10))]
    pub sections: Required<Vec<ListSectionBody>>,
    #[oai(flatten)]
    pub meta: Meta,
}

/// One button of `sendButtons`; which fields count depends on `type`.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct ButtonBody {
    /// `reply`, `url`, `call`, `copy` or `pix`.
    #[oai(rename = "type", validator(max_length = 16))]
    pub kind: Required<String>,
    #[oai(validator(max_length = 256))]
    pub display_text: Option<String>,
    /// What a `reply` button sends back.
    #[oai(validator(max_length = 256))]
    pub id: Option<String>,
    #[oai(validator(max_length = 2048))]
    pub url: Option<String>,
    #[oai(validator(max_length = 64))]
    pub phone_number: Option<String>,
    #[oai(validator(max_length = 1024))]
    pub copy_code: Option<String>,
    /// `pix` only.
    #[oai(validator(max_length = 8))]
    pub currency: Option<String>,
    /// `pix` only: the merchant's name.
    #[oai(validator(max_length = 256))]
    pub name: Option<String>,
    /// `pix` only: `phone`, `email`, `cpf`, `cnpj` or `random`.
    #[oai(validator(max_length = 16))]
    pub key_type: Option<String>,
    /// `pix` only: the PIX key.
    #[oai(validator(max_length = 256))]
    pub key: Option<String>,
}

/// `POST /message/sendButtons` body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SendButtonsBody {
    /// Accepted for compatibility; not sent.
    #[oai(validator(max_length = 2048))]
    pub thumbnail_url: Option<String>,
    #[oai(validator(max_length = 1024))]
    pub title: Option<String>,
    #[oai(validator(max_length = 4096))]
    pub description: Option<String>,
    #[oai(validator(max_length = 256))]
    pub footer: Option<String>,
    #[oai(validator(max_items = 10))]
    pub buttons: Required<Vec<ButtonBody>>,
    #[oai(flatten)]
    pub meta: Meta,
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ParseFromJSON;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::evolution::message::tests::any_json;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any body parses or is refused, never panics; a parsed body is within its caps.
        #[test]
        fn interactive_bodies_parse_within_caps(sections in any_json(), buttons in any_json(), any in any_json()) {
            let body = json!({"title": "t", "buttonText": "b", "footerText": "f", "sections": sections});
            if let Ok(b) = SendListBody::parse_from_json(Some(body)) {
                prop_assert!(b.sections.0.is_none_or(|s| s.len() <= 10
                    && s.iter().all(|s| s.rows.0.as_ref().is_none_or(|r| r.len() <= 10))));
            }
            if let Ok(b) = SendButtonsBody::parse_from_json(Some(json!({"buttons": buttons}))) {
                prop_assert!(b.buttons.0.is_none_or(|v| v.len() <= 10));
            }
            let _ = SendPtvBody::parse_from_json(Some(any.clone()));
            let _ = SendListBody::parse_from_json(Some(any.clone()));
            let _ = SendButtonsBody::parse_from_json(Some(any));
        }
    }
}
