//! LOOPBACK group pictures: stored in the network's media store like profile pictures, the
//! path kept in the group; members see it as a `loopback://media/...` URL.

use super::super::super::EngineError;
use super::super::super::group::{GroupPicture, is_group_jid};
use super::LoopbackSession;

impl LoopbackSession {
    /// WhatsApp's rule for the picture is the subject's: anyone unless the group is locked.
    pub(super) async fn set_group_picture(
        &self,
        group: &str,
        jpeg: Vec<u8>,
    ) -> Result<(), EngineError> {
        if jpeg.is_empty() {
            return Err(EngineError::Invalid("the image is empty".into()));
        }
        let me = self.me()?;
        // Checked before storing the blob, so a refused change leaves nothing behind.
        self.table().get(group)?.may_edit_info(&me)?;
        let path = self.net.book.upload(&jpeg)?.direct_path;
        self.table().update(group, |g| {
            g.may_edit_info(&me)?;
            g.picture = Some(path);
            Ok(())
        })?;
        self.durable().await
    }

    /// A group the account is not in, or that does not exist, shows no picture.
    pub(super) fn group_picture_urls(
        &self,
        groups: Vec<String>,
    ) -> Result<Vec<GroupPicture>, EngineError> {
        let me = self.me()?;
        Ok(groups
            .into_iter()
            .map(|group| {
                let url = is_group_jid(&group)
                    .then(|| self.table().get(&group).ok())
                    .flatten()
                    .filter(|g| g.role_of(&me).is_some())
                    .and_then(|g| g.picture)
                    .map(|path| format!("loopback://media{path}"));
                GroupPicture { group, url }
            })
            .collect())
    }
}
