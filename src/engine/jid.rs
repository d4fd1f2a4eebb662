//! Turning what clients send in `number` fields into WhatsApp JIDs, the way Evolution does.

/// Domain of personal accounts.
pub const USER_SERVER: &str = "s.whatsapp.net";

/// Normalises a `number` field: a full JID is kept; otherwise spaces, `+`, `(` and `)` are
/// removed, long digit strings (18+, or with `-` and 24+) are group ids, and the rest are users.
pub fn to_jid(number: &str) -> Option<String> {
    let trimmed = number.trim();
    if trimmed.contains('@') {
        let (user, server) = trimmed.split_once('@')?;
        if user.is_empty() || server.is_empty() {
            return None;
        }
        return Some(trimmed.to_string());
    }
    let cleaned: String = trimmed
        .chars()
        .filter(|c| !matches!(c, ' ' | '+' | '(' | ')'))
        .collect();
    if cleaned.is_empty() || !cleaned.chars().all(|c| c.is_ascii_digit() || c == '-') {
        return None;
    }
    let is_group = (cleaned.len() >= 18 && !cleaned.contains('-'))
        || (cleaned.contains('-') && cleaned.len() >= 24);
    if is_group {
        return Some(format!("{cleaned}@g.us"));
    }
    let digits: String = cleaned.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return None;
    }
    Some(format!("{digits}@{USER_SERVER}"))
}

/// The user part of a JID without its device suffix (`5511...:3@s.whatsapp.net` -> `5511...`).
pub fn user_of(jid: &str) -> &str {
    let user = jid.split('@').next().unwrap_or(jid);
    user.split(':').next().unwrap_or(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_jids() {
        assert_eq!(
            to_jid("+55 (11) 99999-9999").as_deref(),
            Some("5511999999999@s.whatsapp.net")
        );
        assert_eq!(to_jid("123@g.us").as_deref(), Some("123@g.us"));
        assert_eq!(
            to_jid("120363025246125486").as_deref(),
            Some("120363025246125486@g.us")
        );
        assert_eq!(to_jid("abc"), None);
        assert_eq!(to_jid("@x"), None);
        assert_eq!(user_of("551199:3@s.whatsapp.net"), "551199");
    }
}
