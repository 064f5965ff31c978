//! Log setup: `tracing` events to stderr, as text or JSON lines (`log_format`), filtered by
//! `RUST_LOG` (default `info`).
//!
//! Under systemd, when stderr is the journal (`JOURNAL_STREAM` names stderr's device and
//! inode, as `systemd.exec(5)` describes), lines carry no timestamp and no colours, since
//! journald stamps every line itself, and start with the event's level as a syslog
//! priority (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug and trace), which journald
//! strips and stores as the entry's priority, so `journalctl -p warning` works.
//! Elsewhere colours are used only when stderr is a terminal.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, JsonFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let journal = stderr_is_journal();
    let ansi = !journal && std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match (format, journal) {
        (LogFormat::Text, false) => builder.init(),
        (LogFormat::Text, true) => builder
            .event_format(Journal(format::format().without_time().with_ansi(false)))
            .init(),
        (LogFormat::Json, false) => builder
            .fmt_fields(JsonFields::new())
            .event_format(format::format().json().flatten_event(true))
            .init(),
        (LogFormat::Json, true) => builder
            .fmt_fields(JsonFields::new())
            .event_format(Journal(
                format::format().json().flatten_event(true).without_time(),
            ))
            .init(),
    }
}

/// Whether stderr is connected to journald: `JOURNAL_STREAM` is `<device>:<inode>` of the
/// stream systemd connected, and must match stderr itself (a child whose stderr was
/// redirected inherits the variable but not the stream).
fn stderr_is_journal() -> bool {
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.to_str().and_then(|v| v.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    stderr_identity() == Some((dev, ino))
}

fn stderr_identity() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let meta = std::fs::File::from(fd).metadata().ok()?;
    Some((meta.dev(), meta.ino()))
}

/// Prefixes each line with its syslog priority, for journald.
struct Journal<F>(F);

impl<S, N, F> FormatEvent<S, N> for Journal<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writer.write_str(priority(*event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// The `sd-daemon(3)` prefix for a level.
fn priority(level: Level) -> &'static str {
    match level {
        Level::ERROR => "<3>",
        Level::WARN => "<4>",
        Level::INFO => "<6>",
        Level::DEBUG | Level::TRACE => "<7>",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(priority(Level::ERROR), "<3>");
        assert_eq!(priority(Level::WARN), "<4>");
        assert_eq!(priority(Level::INFO), "<6>");
        assert_eq!(priority(Level::TRACE), "<7>");
    }
}
