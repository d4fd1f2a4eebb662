//! Groups as the HTTP layer shows them: the engine's [`GroupInfo`] with the group's picture URL
//! and what the chat storage knows of each member (name, picture).
//!
//! Picture URLs are kept in a small bounded cache per instance: `fetchAllGroups` on an account
//! in hundreds of groups would otherwise ask WhatsApp for every picture on every call. An entry
//! lives [`PICTURE_TTL`] (WhatsApp's picture URLs expire anyway); setting a picture through
//! zapgate forgets its entry. A failed picture query shows no picture and caches nothing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{InstanceError, InstanceHandle};
use crate::engine::group::{GroupInfo, GroupPicture};

/// How long a picture URL is reused.
const PICTURE_TTL: Duration = Duration::from_secs(10 * 60);
/// Most groups whose picture an instance keeps.
const PICTURE_CACHE_MAX: usize = 2048;

/// A group with its picture and, when asked, what is known of its members.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub info: GroupInfo,
    pub picture_url: Option<String>,
    /// By member JID; members the storage does not know are absent.
    pub members: HashMap<String, KnownMember>,
}

/// A member as the chat storage knows it (from its contacts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownMember {
    pub name: Option<String>,
    pub img_url: Option<String>,
}

/// Group picture URLs by group JID, each with when it was fetched.
#[derive(Default)]
pub(super) struct PictureCache {
    entries: Mutex<HashMap<String, (Option<String>, Instant)>>,
}

impl PictureCache {
    /// The fresh entries among `groups`, and the groups to ask for.
    fn split(
        &self,
        groups: &[String],
        now: Instant,
    ) -> (HashMap<String, Option<String>>, Vec<String>) {
        let entries = self.entries.lock();
        let mut fresh = HashMap::new();
        let mut missing = Vec::new();
        for g in groups {
            match entries.get(g) {
                Some((url, at)) if now.duration_since(*at) < PICTURE_TTL => {
                    fresh.insert(g.clone(), url.clone());
                }
                _ => missing.push(g.clone()),
            }
        }
        (fresh, missing)
    }

    fn keep(&self, pictures: &[GroupPicture], now: Instant) {
        let mut entries = self.entries.lock();
        for p in pictures {
            if entries.len() >= PICTURE_CACHE_MAX && !entries.contains_key(&p.group) {
                make_room(&mut entries, now);
            }
            entries.insert(p.group.clone(), (p.url.clone(), now));
        }
    }

    fn forget(&self, group: &str) {
        self.entries.lock().remove(group);
    }
}

/// Drops the expired entries, then (still full) the oldest quarter.
fn make_room(entries: &mut HashMap<String, (Option<String>, Instant)>, now: Instant) {
    entries.retain(|_, (_, at)| now.duration_since(*at) < PICTURE_TTL);
    if entries.len() < PICTURE_CACHE_MAX {
        return;
    }
    let mut ages: Vec<(Instant, String)> = entries
        .iter()
        .map(|(g, (_, at))| (*at, g.clone()))
        .collect();
    ages.sort();
    for (_, g) in ages.into_iter().take(PICTURE_CACHE_MAX / 4) {
        entries.remove(&g);
    }
}

impl InstanceHandle {
    /// One group; `with_members` adds what the storage knows of its members.
    pub async fn group(&self, jid: &str, with_members: bool) -> Result<GroupView, InstanceError> {
        let info = self.connected_session()?.groups().info(jid).await?;
        let mut views = self.views(vec![info], with_members).await?;
        Ok(views.remove(0))
    }

    /// Every group the account is in.
    pub async fn all_groups(&self, with_members: bool) -> Result<Vec<GroupView>, InstanceError> {
        let list = self.connected_session()?.groups().list().await?;
        self.views(list, with_members).await
    }

    /// Sets a group's picture (a JPEG, sent as given).
    pub async fn set_group_picture(&self, jid: &str, jpeg: Vec<u8>) -> Result<(), InstanceError> {
        let result = self
            .connected_session()?
            .groups()
            .set_picture(jid, jpeg)
            .await;
        self.shared().group_pictures.forget(jid);
        Ok(result?)
    }

    async fn views(
        &self,
        groups: Vec<GroupInfo>,
        with_members: bool,
    ) -> Result<Vec<GroupView>, InstanceError> {
        let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
        let mut pictures = self.picture_urls(&ids).await;
        groups
            .into_iter()
            .map(|info| {
                let members = if with_members {
                    self.known_members(&info)?
                } else {
                    HashMap::new()
                };
                let picture_url = pictures.remove(&info.id).flatten();
                Ok(GroupView {
                    info,
                    picture_url,
                    members,
                })
            })
            .collect()
    }

    async fn picture_urls(&self, groups: &[String]) -> HashMap<String, Option<String>> {
        let cache = &self.shared().group_pictures;
        let (mut known, missing) = cache.split(groups, Instant::now());
        if missing.is_empty() {
            return known;
        }
        let asked = match self.connected_session() {
            Ok(session) => session.groups().picture_urls(missing).await,
            Err(_) => return known,
        };
        match asked {
            Ok(pictures) => {
                cache.keep(&pictures, Instant::now());
                known.extend(pictures.into_iter().map(|p| (p.group, p.url)));
            }
            Err(e) => tracing::debug!(error = %e, "group pictures not fetched"),
        }
        known
    }

    fn known_members(
        &self,
        info: &GroupInfo,
    ) -> Result<HashMap<String, KnownMember>, InstanceError> {
        let history = &self.shared().history;
        let mut out = HashMap::new();
        for p in &info.participants {
            if let Some(c) = history.contact(&p.id)? {
                let known = KnownMember {
                    name: c.push_name,
                    img_url: c.profile_pic_url,
                };
                if known != KnownMember::default() {
                    out.insert(p.id.clone(), known);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pic(group: &str, url: Option<&str>) -> GroupPicture {
        GroupPicture {
            group: group.into(),
            url: url.map(str::to_string),
        }
    }

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let cache = PictureCache::default();
        let t0 = Instant::now();
        cache.keep(&[pic("1@g.us", Some("u")), pic("2@g.us", None)], t0);
        let ids = ["1@g.us".to_string(), "2@g.us".into(), "3@g.us".into()];
        let (fresh, missing) = cache.split(&ids, t0);
        assert_eq!(fresh.get("1@g.us"), Some(&Some("u".to_string())));
        assert_eq!(fresh.get("2@g.us"), Some(&None));
        assert_eq!(missing, vec!["3@g.us".to_string()]);
        let (fresh, missing) = cache.split(&ids, t0 + PICTURE_TTL);
        assert!(fresh.is_empty());
        assert_eq!(missing.len(), 3);
        cache.forget("1@g.us");
        assert_eq!(cache.split(&ids, t0).1.len(), 2);

        let many: Vec<GroupPicture> = (0..PICTURE_CACHE_MAX * 2)
            .map(|i| pic(&format!("{i}@g.us"), None))
            .collect();
        cache.keep(&many, t0);
        assert!(cache.entries.lock().len() <= PICTURE_CACHE_MAX);
    }
}
