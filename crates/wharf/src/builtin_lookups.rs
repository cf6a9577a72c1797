//! Users, groups and hosts in the release build, which has the C library linked in
//! (`scripts/build-release`): looked up in glibc's built-in sources only, /etc/passwd,
//! /etc/group, /etc/hosts and DNS. A statically linked glibc that loads one of the
//! system's name-service modules instead (`libnss_systemd`, asked for a name that
//! /etc/passwd lacks) crashes in it, and wharfd with it. A Go binary built without cgo,
//! as Compose's is, reads the same files.

/// Keeps every lookup to the built-in sources; a no-op where the C library is shared.
#[cfg(target_feature = "crt-static")]
pub fn only_builtin_sources() {
    use std::ffi::{CStr, c_char, c_int};

    // glibc's own override of /etc/nsswitch.conf, for programs linked statically.
    #[allow(unsafe_code)]
    unsafe extern "C" {
        fn __nss_configure_lookup(database: *const c_char, sources: *const c_char) -> c_int;
    }
    let databases: [(&CStr, &CStr); 8] = [
        (c"passwd", c"files"),
        (c"group", c"files"),
        (c"initgroups", c"files"),
        (c"shadow", c"files"),
        (c"hosts", c"files dns"),
        (c"networks", c"files dns"),
        (c"services", c"files"),
        (c"protocols", c"files"),
    ];
    for (database, sources) in databases {
        // SAFETY: two NUL-terminated strings, read during the call; called first
        // thing in `main`, before any thread or lookup.
        #[allow(unsafe_code)]
        unsafe {
            __nss_configure_lookup(database.as_ptr(), sources.as_ptr());
        }
    }
}

#[cfg(not(target_feature = "crt-static"))]
pub fn only_builtin_sources() {}
