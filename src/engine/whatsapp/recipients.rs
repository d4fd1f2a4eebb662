//! Which JID a phone number is registered under. Mobile numbers in Brazil, Mexico and Argentina
//! gained a digit that older accounts do not have, so the number a client sends may name an
//! account under another form; and a number that is not on WhatsApp should be refused (400, as
//! Evolution does) rather than sent into the void. One usync query asks for every form at once;
//! answers are cached per session, since an account's JID does not change.

use std::collections::HashMap;
use std::sync::Mutex;

use whatsapp_rust::{Client, Jid};

use super::failed;
use crate::engine::jid::{USER_SERVER, number_variants, to_jid, user_of};
use crate::engine::{EngineError, NumberCheck};

/// Cached answers per session, at most; the cache starts over when full.
const CACHE_CAP: usize = 10_000;

#[derive(Default)]
pub(super) struct Recipients {
    known: Mutex<HashMap<String, Jid>>,
}

impl Recipients {
    /// The JID to send to for `to`: groups, LIDs, broadcasts and newsletters as given; a phone
    /// JID as WhatsApp knows it, or `NotOnWhatsApp`.
    pub async fn resolve(&self, client: &Client, to: Jid) -> Result<Jid, EngineError> {
        if !to.is_pn() {
            return Ok(to);
        }
        let user = to.user.to_string();
        if let Some(jid) = self.cached(&user) {
            return Ok(jid);
        }
        match self.lookup(client, &user).await? {
            Some(jid) => Ok(jid),
            None => Err(EngineError::NotOnWhatsApp {
                jid: to.to_string(),
                number: user,
            }),
        }
    }

    /// `/chat/whatsappNumbers`: each number with the JID it is registered under.
    pub async fn check(
        &self,
        client: &Client,
        numbers: Vec<String>,
    ) -> Result<Vec<NumberCheck>, EngineError> {
        let mut out = Vec::with_capacity(numbers.len());
        for number in numbers {
            // Written as clients write numbers (`+55 (21) 98765-4321`); only phone numbers can
            // be looked up.
            let Some(jid) = to_jid(&number).filter(|j| j.ends_with(&format!("@{USER_SERVER}")))
            else {
                out.push(NumberCheck {
                    jid: number.clone(),
                    exists: false,
                    number,
                });
                continue;
            };
            let user = user_of(&jid).to_string();
            let found = match self.cached(&user) {
                Some(j) => Some(j),
                None => self.lookup(client, &user).await?,
            };
            out.push(NumberCheck {
                jid: found.as_ref().map_or(jid, Jid::to_string),
                exists: found.is_some(),
                number,
            });
        }
        Ok(out)
    }

    fn cached(&self, user: &str) -> Option<Jid> {
        self.known.lock().ok()?.get(user).cloned()
    }

    async fn lookup(&self, client: &Client, user: &str) -> Result<Option<Jid>, EngineError> {
        let forms: Vec<Jid> = number_variants(user).into_iter().map(Jid::pn).collect();
        let found = client
            .contacts()
            .is_on_whatsapp(&forms)
            .await
            .map_err(|e| failed("number check")(e.to_string()))?;
        // The form asked for first wins when several are registered.
        let hit = forms
            .iter()
            .find_map(|f| {
                found
                    .iter()
                    .find(|r| r.is_registered && r.jid.user == f.user)
            })
            .or_else(|| found.iter().find(|r| r.is_registered))
            .map(|r| r.jid.to_non_ad());
        if let (Some(jid), Ok(mut known)) = (&hit, self.known.lock()) {
            if known.len() >= CACHE_CAP {
                known.clear();
            }
            known.insert(user.to_string(), jid.clone());
        }
        Ok(hit)
    }
}
