//! The last used channel (DESIGN.md, tenant.yaml): a user's
//! `users[].last_channel` in tenant.yaml, or a newer chat recorded with
//! `followup users seen`. tenant.yaml says no time, so its value counts as
//! of the file's modification time: a `users seen` after the last edit of
//! tenant.yaml wins, and editing `last_channel` later wins over it.

use std::path::Path;

use crate::definition::tenant::Tenant;
use crate::store::{Seconds, Seen};

/// When tenant.yaml was last written, as the time of its `last_channel`s.
pub fn tenant_written(tenant_file: &Path) -> Option<Seconds> {
    let modified = std::fs::metadata(tenant_file).ok()?.modified().ok()?;
    let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since.as_secs()).ok()
}

/// Which wins for one user: the recorded chat, unless tenant.yaml gives a
/// channel and was written after it.
pub fn seen_wins(tenant_channel: Option<&str>, seen: &Seen, written: Option<Seconds>) -> bool {
    tenant_channel.is_none() || written.is_none_or(|written| seen.at > written)
}

/// Puts each newer recorded chat into the tenant's users, so that the pass
/// resolves `last_used` from one place. A chat on a channel the tenant no
/// longer has, or of a user it no longer has, is ignored.
pub fn apply(tenant: &mut Tenant, seen: &[Seen], written: Option<Seconds>) {
    for s in seen {
        if !tenant.channels.contains_key(&s.channel) {
            continue;
        }
        if let Some(user) = tenant.users.iter_mut().find(|u| u.id == s.user)
            && seen_wins(user.last_channel.as_deref(), s, written)
        {
            user.last_channel = Some(s.channel.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(at: Seconds) -> Seen {
        Seen {
            user: "alice".into(),
            channel: "outbox".into(),
            at,
        }
    }

    #[test]
    fn the_newer_of_the_tenant_and_the_chat_wins() {
        assert!(
            seen_wins(None, &seen(10), Some(100)),
            "nothing in tenant.yaml"
        );
        assert!(seen_wins(Some("console"), &seen(200), Some(100)));
        assert!(!seen_wins(Some("console"), &seen(50), Some(100)));
    }
}
