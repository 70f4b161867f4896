//! When and who: the timestamps and the actor every record of a run carries.

/// Now, as RFC 3339 UTC.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formatting the current time")
}

/// Who is running cutover: `user@host`.
///
/// The user is the account the process runs as, looked up from its uid as `id -un` does,
/// not `$USER`: a service account, a container or cron often has no `USER`, and a variable
/// anyone can set is a poor witness in a ledger. Only a uid with no account falls back to
/// the environment, and then to `uid N`.
pub fn actor() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    format!("{}@{host}", user_name())
}

/// The name of the account the process runs as (see [`actor`]).
fn user_name() -> String {
    #[cfg(target_os = "linux")]
    if let Some(name) = account_name(unsafe { libc::geteuid() }) {
        return name;
    }
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| {
            #[cfg(target_os = "linux")]
            return format!("uid {}", unsafe { libc::geteuid() });
            #[cfg(not(target_os = "linux"))]
            return "unknown".into();
        })
}

/// The account name of `uid` from the system's user database, if it has one.
#[cfg(target_os = "linux")]
fn account_name(uid: libc::uid_t) -> Option<String> {
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let mut buffer = vec![0 as libc::c_char; 4096];
    // SAFETY: every pointer refers to memory owned here and sized as passed; on success
    // `pw_name` points into `buffer`, which outlives its use below.
    let status = unsafe {
        libc::getpwuid_r(
            uid,
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if status != 0 || found.is_null() || entry.pw_name.is_null() {
        return None;
    }
    let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
    let name = name.to_string_lossy().into_owned();
    (!name.is_empty()).then_some(name)
}

/// Which process is writing: `user@host pid N`.
pub fn worker() -> String {
    format!("{} pid {}", actor(), std::process::id())
}
