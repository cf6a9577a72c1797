//! This machine's users, for running a native command as another one (`run -u`, a
//! hook's `user`). Native services run as whoever runs wharf, so switching to another
//! user needs root.

use std::fmt;

use nix::unistd::{Gid, Group, Uid, User};

/// Why `NAME|UID[:GROUP|GID]` names no user this process can become.
#[derive(Debug, PartialEq, Eq)]
pub struct UserError(String);

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}

/// The uid and gid that `NAME|UID[:GROUP|GID]` names: the user's own group unless one
/// is given. A uid no user has is taken as it is, with group 0, as the engine takes it.
pub fn lookup(text: &str) -> Result<(u32, u32), UserError> {
    let fail = |why: &str| UserError(format!("user {text}: {why}"));
    let (name, group) = text
        .split_once(':')
        .map_or((text, None), |(n, g)| (n, Some(g)));
    let (uid, own_gid) = match name.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid))
            .map_err(|e| fail(&e.to_string()))?
            .map_or((Uid::from_raw(uid), Gid::from_raw(0)), |user| {
                (user.uid, user.gid)
            }),
        Err(_) => User::from_name(name)
            .map_err(|e| fail(&e.to_string()))?
            .map(|user| (user.uid, user.gid))
            .ok_or_else(|| fail("no such user on this machine"))?,
    };
    let gid = match group {
        None => own_gid,
        Some(group) => match group.parse::<u32>() {
            Ok(gid) => Gid::from_raw(gid),
            Err(_) => {
                Group::from_name(group)
                    .map_err(|e| fail(&e.to_string()))?
                    .ok_or_else(|| fail("no such group on this machine"))?
                    .gid
            }
        },
    };
    let me = Uid::effective();
    if uid != me && !me.is_root() {
        return Err(fail(
            "native services run as you, and running as another user needs root",
        ));
    }
    Ok((uid.as_raw(), gid.as_raw()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_found_by_name_or_id_with_their_group_or_another() {
        let root = lookup("root").unwrap();
        assert_eq!(root, (0, 0));
        assert_eq!(lookup("0:0").unwrap(), (0, 0));
        assert!(lookup("no-such-user-here").is_err());
        assert!(lookup("root:no-such-group-here").is_err());
        // A uid no user has, as `docker exec -u 54321` takes it.
        if Uid::effective().is_root() {
            assert_eq!(lookup("54321"), Ok((54321, 0)));
            assert_eq!(lookup("54321:54322"), Ok((54321, 54322)));
        } else {
            assert!(lookup("54321").is_err());
        }
    }
}
