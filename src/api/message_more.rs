//! `/message/sendPtv`, `sendList`, `sendButtons`: round video notes and interactive messages.
//! Same shape as the other sends (`message.rs`): shared fields through [`Target`], 201 with the
//! message record.

use std::collections::HashSet;
use std::sync::Arc;

use poem_openapi::OpenApi;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;

use super::auth::ApiKey;
use super::error::ApiError;
use super::media::sniff_mimetype;
use super::message::{SendResponse, Tag, Target, media_bytes, required};
use super::message_more_dto::*;
use crate::engine::{
    Button, ButtonAction, ButtonsMessage, ListMenu, ListRow, ListSection, MediaKind, NewMedia,
    Outgoing, Presence,
};
use crate::state::AppState;

/// Most rows a list may hold in all (WhatsApp shows no more).
const MAX_LIST_ROWS: usize = 10;
/// Longest row description kept (Evolution cuts there).
const MAX_ROW_DESCRIPTION: usize = 72;
/// Most reply buttons under one message.
const MAX_REPLY_BUTTONS: usize = 3;

pub struct MessageMoreApi {
    pub state: Arc<AppState>,
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::BadRequest(msg.into())
}

fn not_blank(v: Option<String>, field: &str) -> Result<String, ApiError> {
    let v = required(v, field)?;
    if v.trim().is_empty() {
        return Err(bad(format!("{field} must not be empty")));
    }
    Ok(v)
}

/// The list menu of a `sendList` body, checked against WhatsApp's and Evolution's rules.
fn list_menu(b: SendListBody) -> Result<(ListMenu, super::message::Meta), ApiError> {
    let title = not_blank(b.title.0, "title")?;
    let footer_text = required(b.footer_text, "footerText")?;
    let button_text = not_blank(b.button_text.0, "buttonText")?;
    let bodies = required(b.sections, "sections")?;
    if bodies.is_empty() {
        return Err(bad("sections must contain at least 1 item"));
    }
    let (mut titles, mut ids, mut count) = (HashSet::new(), HashSet::new(), 0);
    let mut sections = Vec::with_capacity(bodies.len());
    for s in bodies {
        let title = not_blank(s.title.0, "sections.title")?;
        if !titles.insert(title.clone()) {
            return Err(bad("Section titles cannot be repeated"));
        }
        let rows = required(s.rows, "sections.rows")?;
        if rows.is_empty() {
            return Err(bad("sections.rows must contain at least 1 item"));
        }
        count += rows.len();
        if count > MAX_LIST_ROWS {
            return Err(bad(format!(
                "a list holds at most {MAX_LIST_ROWS} rows in all"
            )));
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let row_id = not_blank(r.row_id.0, "rows.rowId")?;
            if !ids.insert(row_id.clone()) {
                return Err(bad("rowId must be unique within the list"));
            }
            out.push(ListRow {
                title: not_blank(r.title.0, "rows.title")?,
                description: r
                    .description
                    .map(|d| d.chars().take(MAX_ROW_DESCRIPTION).collect()),
                row_id,
            });
        }
        sections.push(ListSection { title, rows: out });
    }
    let menu = ListMenu {
        title,
        description: b.description,
        button_text,
        footer_text,
        sections,
    };
    Ok((menu, b.meta))
}

fn button(b: ButtonBody) -> Result<Button, ApiError> {
    let kind = required(b.kind, "buttons.type")?;
    let action = match kind.as_str() {
        "reply" => ButtonAction::Reply {
            id: not_blank(b.id, "buttons.id")?,
        },
        "url" => ButtonAction::Url {
            url: not_blank(b.url, "buttons.url")?,
        },
        "call" => ButtonAction::Call {
            phone_number: not_blank(b.phone_number, "buttons.phoneNumber")?,
        },
        "copy" => ButtonAction::Copy {
            code: not_blank(b.copy_code, "buttons.copyCode")?,
        },
        "pix" => {
            let key_type = not_blank(b.key_type, "buttons.keyType")?;
            if !["phone", "email", "cpf", "cnpj", "random"].contains(&key_type.as_str()) {
                return Err(bad(
                    "keyType must be one of: phone, email, cpf, cnpj, random",
                ));
            }
            ButtonAction::Pix {
                currency: b.currency.unwrap_or_else(|| "BRL".into()),
                name: not_blank(b.name, "buttons.name")?,
                key_type,
                key: not_blank(b.key, "buttons.key")?,
            }
        }
        _ => {
            return Err(bad(
                "buttons.type must be one of: reply, url, call, copy, pix",
            ));
        }
    };
    let display_text = match &action {
        ButtonAction::Pix { .. } => b.display_text.unwrap_or_default(),
        _ => not_blank(b.display_text, "buttons.displayText")?,
    };
    Ok(Button {
        display_text,
        action,
    })
}

/// Evolution's mixing rules: reply buttons (at most 3) stand alone, a PIX button stands alone.
fn check_mix(buttons: &[Button]) -> Result<(), ApiError> {
    let replies = buttons
        .iter()
        .filter(|b| matches!(b.action, ButtonAction::Reply { .. }))
        .count();
    let pix = buttons
        .iter()
        .filter(|b| matches!(b.action, ButtonAction::Pix { .. }))
        .count();
    if buttons.is_empty() {
        return Err(bad("At least one button is required"));
    }
    if replies > 0 && replies != buttons.len() {
        return Err(bad("Reply buttons cannot be mixed with other button types"));
    }
    if replies > MAX_REPLY_BUTTONS {
        return Err(bad(format!(
            "Maximum of {MAX_REPLY_BUTTONS} reply buttons allowed"
        )));
    }
    if pix > 0 && buttons.len() > 1 {
        return Err(bad("A PIX button cannot be sent with other buttons"));
    }
    Ok(())
}

#[OpenApi(tag = "Tag::Message")]
impl MessageMoreApi {
    /// Send a round video note (an MP4, not transcoded).
    #[oai(
        path = "/message/sendPtv/:instanceName",
        method = "post",
        operation_id = "send_ptv"
    )]
    async fn send_ptv(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<SendPtvBody>,
    ) -> Result<SendResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let data = media_bytes(&self.state, &h, &key, b.video.0, "video").await?;
        let mimetype = match sniff_mimetype(&data) {
            Some(m) if m.starts_with("video/") => m.to_string(),
            None => MediaKind::Ptv.default_mimetype().to_string(),
            Some(other) => {
                return Err(bad(format!("video must be a video, not {other}")));
            }
        };
        let target = Target::prepare(&h, b.meta, self.state.config.max_send_delay_ms).await?;
        let content = Outgoing::Media(NewMedia {
            kind: MediaKind::Ptv,
            data,
            mimetype,
            caption: None,
            file_name: None,
            ptt: false,
        });
        target.send(&h, content, Presence::Composing).await
    }

    /// Send a list menu (sections of rows to pick one from).
    #[oai(
        path = "/message/sendList/:instanceName",
        method = "post",
        operation_id = "send_list"
    )]
    async fn send_list(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<SendListBody>,
    ) -> Result<SendResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let (menu, meta) = list_menu(body.0)?;
        let target = Target::prepare(&h, meta, self.state.config.max_send_delay_ms).await?;
        target
            .send(&h, Outgoing::List(menu), Presence::Composing)
            .await
    }

    /// Send a message with reply, link, call, copy or PIX buttons.
    #[oai(
        path = "/message/sendButtons/:instanceName",
        method = "post",
        operation_id = "send_buttons"
    )]
    async fn send_buttons(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<SendButtonsBody>,
    ) -> Result<SendResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let buttons = required(b.buttons, "buttons")?
            .into_iter()
            .map(button)
            .collect::<Result<Vec<_>, _>>()?;
        check_mix(&buttons)?;
        if b.title.is_none() && b.description.is_none() {
            return Err(bad("title or description is required"));
        }
        let content = Outgoing::Buttons(ButtonsMessage {
            title: b.title,
            description: b.description,
            footer: b.footer,
            buttons,
        });
        let target = Target::prepare(&h, b.meta, self.state.config.max_send_delay_ms).await?;
        target.send(&h, content, Presence::Composing).await
    }
}
