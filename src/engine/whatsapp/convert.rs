//! Our message types to and from whatsapp-rust's protobuf `wa::Message`.

use wa::message::protocol_message::Type as ProtocolType;
use whatsapp_rust::buffa::MessageField;
use whatsapp_rust::download::MediaType;
use whatsapp_rust::wacore::proto_helpers::MessageExt;
use whatsapp_rust::waproto::whatsapp as wa;

use crate::engine::{
    ContactCard, Context, Media, MediaKind, MediaRef, MessageContent, MessageKey, Quote,
};

pub fn media_type(kind: MediaKind) -> MediaType {
    match kind {
        MediaKind::Image => MediaType::Image,
        MediaKind::Video | MediaKind::Ptv => MediaType::Video,
        MediaKind::Audio => MediaType::Audio,
        MediaKind::Document => MediaType::Document,
        MediaKind::Sticker => MediaType::Sticker,
    }
}

pub fn key_to_wa(key: &MessageKey) -> wa::MessageKey {
    wa::MessageKey {
        remote_jid: Some(key.remote_jid.clone()),
        from_me: Some(key.from_me),
        id: Some(key.id.clone()),
        participant: key.participant.clone(),
    }
}

fn key_from_wa(key: &wa::MessageKey) -> Option<MessageKey> {
    Some(MessageKey {
        remote_jid: key.remote_jid.clone().unwrap_or_default(),
        from_me: key.from_me.unwrap_or(false),
        id: key.id.clone()?,
        participant: key.participant.clone().filter(|p| !p.is_empty()),
    })
}

fn context_to_wa(ctx: &Context) -> Option<wa::ContextInfo> {
    if ctx.is_empty() {
        return None;
    }
    let mut info = wa::ContextInfo {
        mentioned_jid: ctx.mentions.clone(),
        ..Default::default()
    };
    if let Some(q) = &ctx.quoted {
        info.stanza_id = Some(q.key.id.clone());
        info.participant = q.key.participant.clone().or_else(|| {
            // In a direct chat the quoted author is the chat itself when it is not ours.
            (!q.key.from_me).then(|| q.key.remote_jid.clone())
        });
        info.remote_jid = Some(q.key.remote_jid.clone());
        if let Some(text) = &q.text {
            info.quoted_message = MessageField::some(wa::Message {
                conversation: Some(text.clone()),
                ..Default::default()
            });
        }
    }
    Some(info)
}

fn context_field(ctx: &Context) -> MessageField<wa::ContextInfo> {
    context_to_wa(ctx)
        .map(MessageField::some)
        .unwrap_or_default()
}

/// The protobuf of content we send (media already uploaded). Reactions and polls are sent with
/// the crate's own builders and never come here.
pub fn to_wa(content: &MessageContent, ctx: &Context) -> wa::Message {
    let mut m = wa::Message::default();
    match content {
        MessageContent::Text { text } => {
            if ctx.is_empty() {
                m.conversation = Some(text.clone());
            } else {
                m.extended_text_message = MessageField::some(wa::message::ExtendedTextMessage {
                    text: Some(text.clone()),
                    context_info: context_field(ctx),
                    ..Default::default()
                });
            }
        }
        MessageContent::Media(media) => media_to_wa(&mut m, media, context_field(ctx)),
        MessageContent::Location {
            latitude,
            longitude,
            name,
            address,
        } => {
            m.location_message = MessageField::some(wa::message::LocationMessage {
                degrees_latitude: Some(*latitude),
                degrees_longitude: Some(*longitude),
                name: name.clone(),
                address: address.clone(),
                context_info: context_field(ctx),
                ..Default::default()
            });
        }
        MessageContent::Contacts { contacts } => {
            let card = |c: &ContactCard| wa::message::ContactMessage {
                display_name: Some(c.display_name.clone()),
                vcard: Some(c.vcard.clone()),
                ..Default::default()
            };
            if let [one] = contacts.as_slice() {
                let mut c = card(one);
                c.context_info = context_field(ctx);
                m.contact_message = MessageField::some(c);
            } else {
                m.contacts_array_message = MessageField::some(wa::message::ContactsArrayMessage {
                    display_name: Some(format!("{} contacts", contacts.len())),
                    contacts: contacts.iter().map(card).collect(),
                    context_info: context_field(ctx),
                });
            }
        }
        MessageContent::Reaction { key, text } => {
            m.reaction_message = MessageField::some(wa::message::ReactionMessage {
                key: MessageField::some(key_to_wa(key)),
                text: Some(text.clone()),
                ..Default::default()
            });
        }
        MessageContent::Poll {
            name,
            options,
            selectable_count,
        } => {
            m.poll_creation_message_v3 = MessageField::some(wa::message::PollCreationMessage {
                name: Some(name.clone()),
                options: options
                    .iter()
                    .map(|o| wa::message::poll_creation_message::Option {
                        option_name: Some(o.clone()),
                        option_hash: None,
                    })
                    .collect(),
                selectable_options_count: Some(*selectable_count),
                ..Default::default()
            });
        }
        MessageContent::Revoke { key } => {
            m.protocol_message = MessageField::some(wa::message::ProtocolMessage {
                key: MessageField::some(key_to_wa(key)),
                r#type: Some(ProtocolType::REVOKE),
                ..Default::default()
            });
        }
        // Refused by the session before sending (not supported on this engine yet).
        MessageContent::List(_) | MessageContent::Buttons(_) => {}
        MessageContent::TextStatus {
            text,
            background_argb,
            font,
        } => {
            use whatsapp_rust::buffa::Enumeration as _;
            // Fonts the protocol no longer numbers fall back to the default one.
            let font = i32::try_from(*font)
                .ok()
                .and_then(wa::message::extended_text_message::FontType::from_i32)
                .unwrap_or_default();
            m.extended_text_message = MessageField::some(wa::message::ExtendedTextMessage {
                text: Some(text.clone()),
                background_argb: Some(*background_argb),
                font: Some(font),
                ..Default::default()
            });
        }
        MessageContent::Edit { key, text } => {
            m.protocol_message = MessageField::some(wa::message::ProtocolMessage {
                key: MessageField::some(key_to_wa(key)),
                r#type: Some(ProtocolType::MESSAGE_EDIT),
                edited_message: MessageField::some(wa::Message {
                    conversation: Some(text.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
    }
    m
}

fn media_to_wa(m: &mut wa::Message, media: &Media, context_info: MessageField<wa::ContextInfo>) {
    let b = &media.blob;
    let mimetype = Some(media.mimetype.clone());
    let (url, direct_path) = (Some(b.url.clone()), Some(b.direct_path.clone()));
    let (media_key, sha, enc_sha) = (
        Some(b.media_key.clone()),
        Some(b.file_sha256.clone()),
        Some(b.file_enc_sha256.clone()),
    );
    let (len, ts) = (Some(media.file_length), Some(b.media_key_timestamp));
    match media.kind {
        MediaKind::Image => {
            m.image_message = MessageField::some(wa::message::ImageMessage {
                url,
                direct_path,
                media_key,
                file_sha256: sha,
                file_enc_sha256: enc_sha,
                file_length: len,
                media_key_timestamp: ts,
                mimetype,
                caption: media.caption.clone(),
                context_info,
                ..Default::default()
            })
        }
        MediaKind::Video | MediaKind::Ptv => {
            let video = MessageField::some(wa::message::VideoMessage {
                url,
                direct_path,
                media_key,
                file_sha256: sha,
                file_enc_sha256: enc_sha,
                file_length: len,
                media_key_timestamp: ts,
                mimetype,
                caption: media.caption.clone(),
                seconds: media.seconds,
                context_info,
                ..Default::default()
            });
            // A round video note is a video under its own field of the message.
            if media.kind == MediaKind::Ptv {
                m.ptv_message = video;
            } else {
                m.video_message = video;
            }
        }
        MediaKind::Audio => {
            m.audio_message = MessageField::some(wa::message::AudioMessage {
                url,
                direct_path,
                media_key,
                file_sha256: sha,
                file_enc_sha256: enc_sha,
                file_length: len,
                media_key_timestamp: ts,
                mimetype,
                ptt: Some(media.ptt),
                seconds: media.seconds,
                context_info,
                ..Default::default()
            })
        }
        MediaKind::Document => {
            m.document_message = MessageField::some(wa::message::DocumentMessage {
                url,
                direct_path,
                media_key,
                file_sha256: sha,
                file_enc_sha256: enc_sha,
                file_length: len,
                media_key_timestamp: ts,
                mimetype,
                title: media.file_name.clone(),
                file_name: media.file_name.clone(),
                caption: media.caption.clone(),
                context_info,
                ..Default::default()
            })
        }
        MediaKind::Sticker => {
            m.sticker_message = MessageField::some(wa::message::StickerMessage {
                url,
                direct_path,
                media_key,
                file_sha256: sha,
                file_enc_sha256: enc_sha,
                file_length: len,
                media_key_timestamp: ts,
                mimetype,
                context_info,
                ..Default::default()
            })
        }
    }
}

fn context_from_wa(info: &MessageField<wa::ContextInfo>) -> Context {
    let Some(info) = info.as_option() else {
        return Context::default();
    };
    let quoted = info.stanza_id.as_ref().map(|id| Quote {
        key: MessageKey {
            remote_jid: info.remote_jid.clone().unwrap_or_default(),
            from_me: false,
            id: id.clone(),
            participant: info.participant.clone(),
        },
        text: info
            .quoted_message
            .as_option()
            .and_then(|q| q.text_content())
            .map(str::to_string),
    });
    Context {
        quoted,
        mentions: info.mentioned_jid.clone(),
    }
}

macro_rules! blob {
    ($x:expr) => {
        MediaRef {
            url: $x.url.clone().unwrap_or_default(),
            // A sender chooses this string: one that is not a plain path keeps the message
            // but without downloadable media (see `is_plain_direct_path`).
            direct_path: $x
                .direct_path
                .clone()
                .filter(|p| crate::engine::content::is_plain_direct_path(p))
                .unwrap_or_default(),
            media_key: $x.media_key.clone().unwrap_or_default(),
            file_sha256: $x.file_sha256.clone().unwrap_or_default(),
            file_enc_sha256: $x.file_enc_sha256.clone().unwrap_or_default(),
            media_key_timestamp: $x.media_key_timestamp.unwrap_or_default(),
        }
    };
}

fn media(
    kind: MediaKind,
    mimetype: &Option<String>,
    file_length: Option<u64>,
    blob: MediaRef,
) -> Media {
    Media {
        kind,
        mimetype: mimetype
            .clone()
            .unwrap_or_else(|| kind.default_mimetype().to_string()),
        caption: None,
        file_name: None,
        file_length: file_length.unwrap_or_default(),
        ptt: false,
        seconds: None,
        blob,
    }
}

/// Our view of a received message; `None` for kinds we do not handle yet.
pub fn from_wa(msg: &wa::Message) -> Option<(MessageContent, Context)> {
    let m = msg.get_base_message();
    if let Some(text) = &m.conversation {
        return Some((
            MessageContent::Text { text: text.clone() },
            Context::default(),
        ));
    }
    if let Some(x) = m.extended_text_message.as_option() {
        let text = x.text.clone().unwrap_or_default();
        return Some((
            MessageContent::Text { text },
            context_from_wa(&x.context_info),
        ));
    }
    if let Some(x) = m.image_message.as_option() {
        let mut md = media(MediaKind::Image, &x.mimetype, x.file_length, blob!(x));
        md.caption = x.caption.clone();
        return Some((MessageContent::Media(md), context_from_wa(&x.context_info)));
    }
    if let Some(x) = m.video_message.as_option() {
        let mut md = media(MediaKind::Video, &x.mimetype, x.file_length, blob!(x));
        md.caption = x.caption.clone();
        md.seconds = x.seconds;
        return Some((MessageContent::Media(md), context_from_wa(&x.context_info)));
    }
    if let Some(x) = m.ptv_message.as_option() {
        let mut md = media(MediaKind::Ptv, &x.mimetype, x.file_length, blob!(x));
        md.seconds = x.seconds;
        return Some((MessageContent::Media(md), context_from_wa(&x.context_info)));
    }
    if let Some(x) = m.audio_message.as_option() {
        let mut md = media(MediaKind::Audio, &x.mimetype, x.file_length, blob!(x));
        md.ptt = x.ptt.unwrap_or(false);
        md.seconds = x.seconds;
        return Some((MessageContent::Media(md), context_from_wa(&x.context_info)));
    }
    let doc = m.document_message.as_option().or_else(|| {
        m.document_with_caption_message
            .as_option()
            .and_then(|f| f.message.as_option())
            .and_then(|inner| inner.document_message.as_option())
    });
    if let Some(x) = doc {
        let mut md = media(MediaKind::Document, &x.mimetype, x.file_length, blob!(x));
        md.caption = x.caption.clone();
        md.file_name = x.file_name.clone().or_else(|| x.title.clone());
        return Some((MessageContent::Media(md), context_from_wa(&x.context_info)));
    }
    if let Some(x) = m.sticker_message.as_option() {
        let md = media(MediaKind::Sticker, &x.mimetype, x.file_length, blob!(x));
        return Some((MessageContent::Media(md), context_from_wa(&x.context_info)));
    }
    if let Some(x) = m.location_message.as_option() {
        let content = MessageContent::Location {
            latitude: x.degrees_latitude.unwrap_or_default(),
            longitude: x.degrees_longitude.unwrap_or_default(),
            name: x.name.clone(),
            address: x.address.clone(),
        };
        return Some((content, context_from_wa(&x.context_info)));
    }
    let card = |c: &wa::message::ContactMessage| ContactCard {
        display_name: c.display_name.clone().unwrap_or_default(),
        vcard: c.vcard.clone().unwrap_or_default(),
    };
    if let Some(x) = m.contact_message.as_option() {
        let content = MessageContent::Contacts {
            contacts: vec![card(x)],
        };
        return Some((content, context_from_wa(&x.context_info)));
    }
    if let Some(x) = m.contacts_array_message.as_option() {
        let content = MessageContent::Contacts {
            contacts: x.contacts.iter().map(card).collect(),
        };
        return Some((content, context_from_wa(&x.context_info)));
    }
    if let Some(x) = m.reaction_message.as_option() {
        let key = key_from_wa(x.key.as_option()?)?;
        let text = x.text.clone().unwrap_or_default();
        return Some((MessageContent::Reaction { key, text }, Context::default()));
    }
    let poll = m
        .poll_creation_message_v3
        .as_option()
        .or_else(|| m.poll_creation_message_v2.as_option())
        .or_else(|| m.poll_creation_message.as_option());
    if let Some(x) = poll {
        let content = MessageContent::Poll {
            name: x.name.clone().unwrap_or_default(),
            options: x
                .options
                .iter()
                .filter_map(|o| o.option_name.clone())
                .collect(),
            selectable_count: x.selectable_options_count.unwrap_or(0),
        };
        return Some((content, context_from_wa(&x.context_info)));
    }
    if let Some(p) = m.protocol_message.as_option() {
        let key = key_from_wa(p.key.as_option()?)?;
        if p.r#type == Some(ProtocolType::REVOKE) {
            return Some((MessageContent::Revoke { key }, Context::default()));
        }
        if p.r#type == Some(ProtocolType::MESSAGE_EDIT) || p.edited_message.is_set() {
            let text = p
                .edited_message
                .as_option()
                .and_then(|e| e.text_content().or_else(|| e.get_caption()))
                .unwrap_or_default()
                .to_string();
            return Some((MessageContent::Edit { key, text }, Context::default()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(content: MessageContent, ctx: Context) {
        let wa = to_wa(&content, &ctx);
        let (back, back_ctx) = from_wa(&wa).expect("understood");
        assert_eq!(back, content);
        assert_eq!(back_ctx.mentions, ctx.mentions);
        assert_eq!(
            back_ctx.quoted.map(|q| (q.key.id, q.text)),
            ctx.quoted.map(|q| (q.key.id, q.text))
        );
    }

    fn key() -> MessageKey {
        MessageKey {
            remote_jid: "551100000001@s.whatsapp.net".into(),
            from_me: true,
            id: "3EB0AA".into(),
            participant: None,
        }
    }

    #[test]
    fn contents_survive_the_protobuf() {
        roundtrip(
            MessageContent::Text { text: "hi".into() },
            Context::default(),
        );
        roundtrip(
            MessageContent::Text { text: "re".into() },
            Context {
                quoted: Some(Quote {
                    key: key(),
                    text: Some("hi".into()),
                }),
                mentions: vec!["551100000002@s.whatsapp.net".into()],
            },
        );
        roundtrip(
            MessageContent::Location {
                latitude: -23.5,
                longitude: -46.6,
                name: Some("Sé".into()),
                address: None,
            },
            Context::default(),
        );
        roundtrip(
            MessageContent::Contacts {
                contacts: vec![
                    ContactCard {
                        display_name: "A".into(),
                        vcard: "BEGIN:VCARD\nEND:VCARD".into(),
                    },
                    ContactCard {
                        display_name: "B".into(),
                        vcard: "BEGIN:VCARD\nEND:VCARD".into(),
                    },
                ],
            },
            Context::default(),
        );
        roundtrip(
            MessageContent::Reaction {
                key: key(),
                text: "👍".into(),
            },
            Context::default(),
        );
        roundtrip(
            MessageContent::Poll {
                name: "lunch?".into(),
                options: vec!["yes".into(), "no".into()],
                selectable_count: 1,
            },
            Context::default(),
        );
        roundtrip(MessageContent::Revoke { key: key() }, Context::default());
        roundtrip(
            MessageContent::Edit {
                key: key(),
                text: "fixed".into(),
            },
            Context::default(),
        );
        let mut blob = MediaRef {
            url: "https://mmg.example/x".into(),
            direct_path: "/v/t62/x".into(),
            media_key: vec![1; 32],
            file_sha256: vec![2; 32],
            file_enc_sha256: vec![3; 32],
            media_key_timestamp: 1,
        };
        for kind in [
            MediaKind::Image,
            MediaKind::Video,
            MediaKind::Audio,
            MediaKind::Document,
            MediaKind::Sticker,
            MediaKind::Ptv,
        ] {
            blob.media_key_timestamp += 1;
            let with_caption = matches!(
                kind,
                MediaKind::Image | MediaKind::Video | MediaKind::Document
            );
            roundtrip(
                MessageContent::Media(Media {
                    kind,
                    mimetype: kind.default_mimetype().into(),
                    caption: with_caption.then(|| "cap".into()),
                    file_name: (kind == MediaKind::Document).then(|| "a.pdf".into()),
                    file_length: 10,
                    ptt: kind == MediaKind::Audio,
                    seconds: matches!(kind, MediaKind::Audio | MediaKind::Video | MediaKind::Ptv)
                        .then_some(3),
                    blob: blob.clone(),
                }),
                Context::default(),
            );
        }
    }

    #[test]
    fn a_senders_direct_path_that_is_not_plain_is_dropped() {
        for (path, kept) in [
            ("/v/t62.7118-24/1_n.enc?ccb=11-4&oh=x", true),
            (".attacker.example/x", false),
            ("//attacker.example/x", false),
            ("/v/../x", false),
        ] {
            let media = Media {
                kind: MediaKind::Image,
                mimetype: "image/jpeg".into(),
                caption: None,
                file_name: None,
                file_length: 10,
                ptt: false,
                seconds: None,
                blob: MediaRef {
                    url: "https://mmg.example/x".into(),
                    direct_path: path.into(),
                    media_key: vec![1; 32],
                    file_sha256: vec![2; 32],
                    file_enc_sha256: vec![3; 32],
                    media_key_timestamp: 1,
                },
            };
            let wa = to_wa(&MessageContent::Media(media), &Context::default());
            let (back, _) = from_wa(&wa).expect("understood: the message is kept");
            let MessageContent::Media(m) = back else {
                panic!("still a media message");
            };
            assert_eq!(m.blob.direct_path.is_empty(), !kept, "{path}");
        }
    }
}
