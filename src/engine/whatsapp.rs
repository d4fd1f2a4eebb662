//! The real WhatsApp Web engine on whatsapp-rust.
//!
//! Not built yet (issue "The real WhatsApp engine"): starting a session reports that the engine is
//! unavailable, so a WHATSAPP-BAILEYS instance stays `close` with a clear error instead of
//! pretending to connect.

use std::sync::Arc;

use super::{Engine, EngineError, Session, SessionContext};

pub struct WhatsAppEngine;

impl Engine for WhatsAppEngine {
    fn start(&self, _ctx: SessionContext) -> Result<Arc<dyn Session>, EngineError> {
        Err(EngineError::Unavailable(
            "the WHATSAPP-BAILEYS engine is not available in this build yet; use LOOPBACK".into(),
        ))
    }
}
