//! Turning what clients send in `number` fields into WhatsApp JIDs, the way Evolution does.

/// Domain of personal accounts.
pub const USER_SERVER: &str = "s.whatsapp.net";

/// The chat status posts go to.
pub const STATUS_BROADCAST: &str = "status@broadcast";

/// Longest JID accepted (and produced): WhatsApp's are well under 64 bytes; request fields that
/// carry one are capped at this length too.
pub const MAX_JID_LEN: usize = 128;

/// Normalises a `number` field: a full JID is kept; otherwise spaces, `+`, `(` and `)` are
/// removed, long digit strings (18+, or with `-` and 24+) are group ids, and the rest are users.
/// `None` for anything that is not a number or a JID, or that would be longer than
/// [`MAX_JID_LEN`].
pub fn to_jid(number: &str) -> Option<String> {
    to_jid_unbounded(number).filter(|j| j.len() <= MAX_JID_LEN)
}

fn to_jid_unbounded(number: &str) -> Option<String> {
    let trimmed = number.trim();
    if trimmed.len() > MAX_JID_LEN * 4 {
        return None;
    }
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
    Some(format!("{}@{USER_SERVER}", canonical_number(&digits)))
}

/// The form Evolution gives a number in the countries whose mobile numbers gained a digit that
/// older WhatsApp accounts do not have: Mexico (`52 1 …`) and Argentina (`54 9 …`) drop it;
/// Brazil (`55 DD 9 ….….`) drops it outside area codes 11–30 for numbers that start with 7–9.
/// Which form an account really has is settled by asking WhatsApp ([`number_variants`]).
pub fn canonical_number(digits: &str) -> String {
    let b = digits.as_bytes();
    if !b.iter().all(u8::is_ascii_digit) {
        return digits.to_string();
    }
    if b.len() == 13 && (digits.starts_with("52") || digits.starts_with("54")) {
        return format!("{}{}", &digits[..2], &digits[3..]);
    }
    if b.len() == 13 && digits.starts_with("55") {
        let ddd: u32 = digits[2..4].parse().unwrap_or(0);
        let first = b[5] - b'0';
        if ddd >= 31 && first >= 7 {
            return format!("{}{}", &digits[..4], &digits[5..]);
        }
    }
    digits.to_string()
}

/// The user parts a number may be registered under, the given one first: with and without the
/// extra mobile digit in Brazil, Mexico and Argentina; just the number elsewhere.
pub fn number_variants(user: &str) -> Vec<String> {
    let mut out = vec![user.to_string()];
    let mut add = |v: String| {
        if !out.contains(&v) {
            out.push(v);
        }
    };
    if !user.bytes().all(|c| c.is_ascii_digit()) {
        return out;
    }
    match (user.get(..2), user.len()) {
        (Some("55"), 12) => add(format!("{}9{}", &user[..4], &user[4..])),
        (Some("55"), 13) if user.as_bytes()[4] == b'9' => {
            add(format!("{}{}", &user[..4], &user[5..]))
        }
        (Some("52"), 12) => add(format!("521{}", &user[2..])),
        (Some("54"), 12) => add(format!("549{}", &user[2..])),
        (Some("52" | "54"), 13) => add(format!("{}{}", &user[..2], &user[3..])),
        _ => {}
    }
    out
}

/// The user part of a JID without its device suffix (`5511...:3@s.whatsapp.net` -> `5511...`).
pub fn user_of(jid: &str) -> &str {
    let user = jid.split('@').next().unwrap_or(jid);
    user.split(':').next().unwrap_or(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever a client puts in `number`: no panic, and an answer is a bounded JID.
        #[test]
        fn any_number_field_is_safe(s in "\\PC{0,200}") {
            if let Some(j) = to_jid(&s) {
                prop_assert!(j.len() <= MAX_JID_LEN);
                let (user, server) = j.split_once('@').expect("a JID has a server");
                prop_assert!(!user.is_empty() && !server.is_empty());
                prop_assert!(user_of(&j).len() <= j.len());
            }
            let _ = user_of(&s);
        }

        /// Digit strings (with the separators clients use) always become JIDs.
        #[test]
        fn phone_numbers_become_user_jids(d in "[0-9]{8,15}", sep in "[ +()]{0,3}") {
            let j = to_jid(&format!("{sep}{d}")).expect("a number");
            prop_assert!(j.ends_with("@s.whatsapp.net"));
            let user = user_of(&j);
            prop_assert!(number_variants(user).iter().all(|v| v.len() <= d.len() + 1));
            prop_assert!(number_variants(user).contains(&user.to_string()));
        }

        /// `canonical_number` and `number_variants` take any string without panicking.
        #[test]
        fn number_helpers_never_panic(s in "[0-9a-z]{0,20}") {
            let c = canonical_number(&s);
            prop_assert!(c.len() <= s.len());
            let v = number_variants(&s);
            prop_assert!(!v.is_empty() && v.len() <= 2);
        }
    }

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
        // Evolution's ninth-digit rules.
        assert_eq!(
            to_jid("5531987654321").as_deref(),
            Some("553187654321@s.whatsapp.net")
        );
        assert_eq!(
            to_jid("5531912345678").as_deref(),
            Some("5531912345678@s.whatsapp.net")
        );
        assert_eq!(
            to_jid("5521987654321").as_deref(),
            Some("5521987654321@s.whatsapp.net")
        );
        assert_eq!(
            to_jid("5215512345678").as_deref(),
            Some("525512345678@s.whatsapp.net")
        );
        assert_eq!(
            to_jid("5491112345678").as_deref(),
            Some("541112345678@s.whatsapp.net")
        );
        assert_eq!(
            to_jid("15550001111").as_deref(),
            Some("15550001111@s.whatsapp.net")
        );
        assert_eq!(
            number_variants("553187654321"),
            ["553187654321", "5531987654321"]
        );
        assert_eq!(
            number_variants("5521987654321"),
            ["5521987654321", "552187654321"]
        );
        assert_eq!(
            number_variants("525512345678"),
            ["525512345678", "5215512345678"]
        );
        assert_eq!(
            number_variants("541112345678"),
            ["541112345678", "5491112345678"]
        );
        assert_eq!(number_variants("15550001111"), ["15550001111"]);
        assert_eq!(to_jid("@x"), None);
        assert_eq!(user_of("551199:3@s.whatsapp.net"), "551199");
    }
}
