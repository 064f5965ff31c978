//! Reloading the configuration (SIGHUP, `systemctl reload`): re-read and validate the file,
//! then build a whole new [`Site`] from it that publishes into the snapshot handle the
//! server already reads. The swap is atomic for readers, like any rebuild.
//!
//! A file that cannot be read, parsed or validated, or whose content directory cannot be
//! opened or read completely (a folder or file that fails with EMFILE, EACCES…, whose last
//! good version only the running site has), is rejected: the error names the file (and line), and the running site and its
//! configuration keep serving untouched. Keys that are fixed once the server is up (see
//! [`Settings::needs_restart`]) are logged as needing a restart and keep their running
//! values, so the next reload reports them again until the service is restarted.

use std::path::Path;

use crate::config::{self, Settings};
use crate::site::{Handles, Site};

/// Re-reads the config file and the Hugo site the running settings came from; the new site
/// takes over the running site's handles (snapshot, clock, state, announcer). On success
/// returns the new settings and the new site, whose first snapshot is already published.
pub fn reload(running: &Settings, handles: Handles) -> Result<(Settings, Site), String> {
    let path = running.config_path.as_deref();
    let shown = path.unwrap_or(Path::new("(no config file)"));
    tracing::info!(config = %shown.display(), "reloading the configuration");
    let mut new = config::load_with(path, running.hugo_site.as_deref())
        .map_err(|err| format!("configuration rejected, still serving the previous one: {err}"))?;
    let fixed = running.needs_restart(&new);
    if !fixed.is_empty() {
        tracing::warn!(
            keys = %fixed.join(", "),
            "these settings changed but only take effect after a restart (systemctl restart herald); keeping the running values"
        );
        new.keep_fixed(running);
    }
    let mut site = Site::read(&new, handles).map_err(|err| {
        format!(
            "configuration rejected, still serving the previous one: {path}: {err}",
            path = shown.display()
        )
    })?;
    // A site read while files could not be opened (EMFILE, EACCES…) would publish without
    // them: the running site, which has their last good versions, stays.
    let unreadable = site.unreadable_count();
    if unreadable > 0 {
        return Err(format!(
            "reload rejected, still serving the previous site: {unreadable} paths under {dir} could not be read (see the warning above); reload again once they can",
            dir = new.content.dir.display()
        ));
    }
    site.publish();
    site.log_problems(&new.content.dir);
    Ok((new, site))
}
