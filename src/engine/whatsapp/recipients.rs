//! Which JID a phone number is registered under. Mobile numbers in Brazil, Mexico and Argentina
//! gained a digit that older accounts do not have, so the number a client sends may name an
//! account under another form; and a number that is not on WhatsApp should be refused (400, as
//! Evolution does) rather than sent into the void. One usync query asks for every form at once;
//! answers are cached per session, since an account's JID does not change.

use parking_lot::Mutex;
use std::collections::HashMap;

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
        let mut found = self.lookup(client, std::slice::from_ref(&user)).await?;
        match found.remove(&user) {
            Some(jid) => Ok(jid),
            None => Err(EngineError::NotOnWhatsApp {
                jid: to.to_string(),
                number: user,
            }),
        }
    }

    /// `/chat/whatsappNumbers`: each number with the JID it is registered under, in one query.
    pub async fn check(
        &self,
        client: &Client,
        numbers: Vec<String>,
    ) -> Result<Vec<NumberCheck>, EngineError> {
        // Written as clients write numbers (`+55 (21) 98765-4321`); only phone numbers can be
        // looked up.
        let jids: Vec<Option<String>> = numbers
            .iter()
            .map(|n| to_jid(n).filter(|j| j.ends_with(&format!("@{USER_SERVER}"))))
            .collect();
        let users: Vec<String> = jids
            .iter()
            .flatten()
            .map(|j| user_of(j).to_string())
            .collect();
        let found = self.lookup(client, &users).await?;
        Ok(numbers
            .into_iter()
            .zip(jids)
            .map(|(number, jid)| {
                let hit = jid.as_deref().and_then(|j| found.get(user_of(j)));
                NumberCheck {
                    jid: hit
                        .map(Jid::to_string)
                        .or(jid)
                        .unwrap_or_else(|| number.clone()),
                    exists: hit.is_some(),
                    number,
                }
            })
            .collect())
    }

    /// Phone JIDs replaced by the form their account is registered under, in one query; other
    /// JIDs, and numbers not on WhatsApp, as given (WhatsApp answers for those one by one).
    pub async fn registered_forms(
        &self,
        client: &Client,
        jids: Vec<Jid>,
    ) -> Result<Vec<Jid>, EngineError> {
        let users: Vec<String> = jids
            .iter()
            .filter(|j| j.is_pn())
            .map(|j| j.user.to_string())
            .collect();
        let found = self.lookup(client, &users).await?;
        Ok(jids
            .into_iter()
            .map(
                |j| match j.is_pn().then(|| found.get(j.user.as_str())).flatten() {
                    Some(registered) => registered.clone(),
                    None => j,
                },
            )
            .collect())
    }

    /// The registered phone JID of each of `users` that has one; unknown users are asked
    /// about, every form of every number in one usync query.
    async fn lookup(
        &self,
        client: &Client,
        users: &[String],
    ) -> Result<HashMap<String, Jid>, EngineError> {
        let mut out = HashMap::new();
        let mut ask: Vec<(&String, Vec<String>)> = Vec::new();
        {
            let known = self.known.lock();
            for u in users {
                match known.get(u) {
                    Some(j) => {
                        out.insert(u.clone(), j.clone());
                    }
                    None => ask.push((u, number_variants(u))),
                }
            }
        }
        if ask.is_empty() {
            return Ok(out);
        }
        let forms: Vec<Jid> = ask
            .iter()
            .flat_map(|(_, v)| v.iter().map(|f| Jid::pn(f.as_str())))
            .collect();
        let answers = client
            .contacts()
            .is_on_whatsapp(&forms)
            .await
            .map_err(|e| failed("number check")(e.to_string()))?;
        // The phone-number form of every registered answer (a LID-primary answer carries it
        // in `pn_jid`).
        let registered: Vec<Jid> = answers
            .iter()
            .filter(|r| r.is_registered)
            .filter_map(|r| {
                if r.jid.is_pn() {
                    Some(r.jid.to_non_ad())
                } else {
                    r.pn_jid.as_ref().map(Jid::to_non_ad)
                }
            })
            .collect();
        let mut known = self.known.lock();
        for (user, variants) in ask {
            // The form asked for first wins when several are registered.
            let Some(jid) = variants
                .iter()
                .find_map(|v| registered.iter().find(|r| r.user == v.as_str()))
            else {
                continue;
            };
            if known.len() >= CACHE_CAP {
                known.clear();
            }
            known.insert(user.clone(), jid.clone());
            out.insert(user.clone(), jid.clone());
        }
        Ok(out)
    }
}
