//! Which settings a served snapshot depends on, as one hash: a snapshot stored by one run is
//! served at the next start only if this is the same (see [`crate::persist`]).

use super::Settings;

impl Settings {
    /// A hash of every setting that can change what is served: the Debug form of the
    /// settings with the ones that cannot (where and how Herald listens, its timeouts and
    /// limits on connections, how it watches and logs, where it keeps its state, whom it
    /// tells of changes) blanked. A new setting counts unless it is blanked here: at worst
    /// it costs a cold start, never a stale snapshot.
    pub fn output_fingerprint(&self) -> u128 {
        let mut s = self.clone();
        s.config_path = None;
        // Of the http section, only what responses say to caches is served.
        s.http = super::HttpSection {
            listen: ([0, 0, 0, 0], 0).into(),
            max_connections: 0,
            header_read_timeout: Default::default(),
            keep_alive_timeout: Default::default(),
            shutdown_grace: Default::default(),
            cache_control: s.http.cache_control,
            health_path: None,
            metrics_path: None,
        };
        s.watch = super::WatchSection {
            mode: super::WatchMode::Off,
            debounce: Default::default(),
            poll_interval: Default::default(),
            rescan_interval: None,
        };
        s.log_format = super::LogFormat::Text;
        s.warnings = Vec::new();
        s.hugo_data = None;
        s.state_dir = None;
        s.purge = Vec::new();
        xxhash_rust::xxh3::xxh3_128(format!("{s:?}").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;

    fn settings(dir: &std::path::Path, yaml: &str) -> Settings {
        std::fs::create_dir_all(dir.join("content")).unwrap();
        let path = dir.join("herald.yaml");
        std::fs::write(
            &path,
            format!("content_dir: content\nbase_url: https://example.org/\n{yaml}"),
        )
        .unwrap();
        crate::config::load_with(Some(&path), None).unwrap()
    }

    #[test]
    fn output_settings_change_it_and_runtime_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let settings = |yaml: &str| settings(dir.path(), yaml);
        let base = settings("title: A\n").output_fingerprint();
        assert_eq!(base, settings("title: A\n").output_fingerprint());
        assert_eq!(
            base,
            settings("title: A\nlisten: 127.0.0.1:9999\nmax_connections: 7\n").output_fingerprint()
        );
        assert_ne!(base, settings("title: B\n").output_fingerprint());
        assert_ne!(
            base,
            settings("title: A\nitems_per_feed: 3\n").output_fingerprint()
        );
    }
}
