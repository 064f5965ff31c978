//! Talking to systemd: the `sd_notify` protocol (`READY=1`, `STATUS=`, `RELOADING=1`,
//! `STOPPING=1`, `WATCHDOG=1`) and socket activation (`LISTEN_FDS`).
//!
//! Everything here is a no-op outside systemd: without `NOTIFY_SOCKET` nothing is sent,
//! without `LISTEN_FDS`/`LISTEN_PID` naming this process no socket is taken. A failed
//! notification is logged at debug level and otherwise ignored: the service manager going
//! away must never take the feeds down with it.
//!
//! Who sends what:
//! - `main` sends `READY=1` once the listener is bound *and* the first snapshot is
//!   published (so a unit ordered `After=herald.service` finds the feeds served), and
//!   `STOPPING=1` on SIGTERM/SIGINT.
//! - The owner loop ([`crate::live`]) sends `WATCHDOG=1` at half of `WATCHDOG_USEC`, from
//!   the same task that applies changes, so a wedged rebuild stops the pings and systemd
//!   restarts the service; it sends `STATUS=` after every rebuild and
//!   `RELOADING=1` + `MONOTONIC_USEC=` … `READY=1` around a reload.

use std::net::TcpListener;
use std::os::fd::FromRawFd;
use std::time::Duration;

use sd_notify::NotifyState;

/// Sends `states` in one datagram if systemd asked for notifications.
fn send(states: &[NotifyState]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::debug!(%error, "cannot notify systemd");
    }
}

/// Startup (or a reload) is complete: the listener is bound and a snapshot is served.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(&one_line(status))]);
}

/// A line for `systemctl status`.
pub fn status(status: &str) {
    send(&[NotifyState::Status(&one_line(status))]);
}

/// The protocol is one `KEY=value` per line: a newline in a value would end it early.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// A reload has begun; `READY=1` (see [`ready`]) ends it, whatever its outcome. Newer
/// systemd (253+) wants the `CLOCK_MONOTONIC` time of the request alongside, to tell this
/// reload from an earlier one.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[
            NotifyState::Reloading,
            now,
            NotifyState::Status("reloading the configuration"),
        ]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// Shutdown has begun.
pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: finishing in-flight requests"),
    ]);
}

/// Keep-alive for `WatchdogSec=`.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// How often to ping the watchdog: half the interval systemd gave us (as `sd_watchdog_enabled(3)`
/// recommends), or `None` when no watchdog is armed for this process.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .filter(|d| !d.is_zero())
        .map(|d| d / 2)
}

/// The listening socket systemd passed (socket activation), if `LISTEN_PID` names this
/// process and `LISTEN_FDS` is at least 1. Takes the first one (fd 3) and warns about any
/// others. Clears the `LISTEN_*` variables so nothing inherits them, so call it while the
/// process is still single-threaded (before the async runtime starts).
pub fn take_listener() -> std::io::Result<Option<TcpListener>> {
    let mut fds = sd_notify::listen_fds()?;
    let count = fds.len();
    let Some(fd) = fds.next() else {
        return Ok(None);
    };
    for var in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    if count > 1 {
        tracing::warn!(
            count,
            "systemd passed more than one socket; serving on the first (fd 3) only"
        );
    }
    if !is_listening_socket(fd) {
        return Err(std::io::Error::other(
            "the socket systemd passed (fd 3) is not a listening stream socket: use ListenStream= in the .socket unit",
        ));
    }
    // SAFETY: systemd hands this descriptor to us and nothing else in the process owns it;
    // it was just checked to be a listening socket.
    let listener = unsafe { TcpListener::from_raw_fd(fd) };
    // An AF_UNIX socket would pass the checks above but has no IP address.
    listener.local_addr().map_err(|e| {
        std::io::Error::other(format!(
            "the socket systemd passed (fd 3) is not a TCP socket ({e}): use ListenStream=PORT or ADDRESS:PORT"
        ))
    })?;
    listener.set_nonblocking(true)?;
    Ok(Some(listener))
}

/// Whether `fd` is a socket in the listening state.
fn is_listening_socket(fd: i32) -> bool {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and len point to valid memory of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    rc == 0 && value == 1
}
