//! The hostile corpus (tests/hostile/content, plus the cases git cannot hold, made at test
//! time) through the real binary: `herald check` names every bad file and fails; `herald
//! build` and `herald serve` publish every good post and nothing bad or private, in feeds
//! that strict parsers accept; nothing is ever written outside the output folder.
//!
//! Every file carries markers: `HMGOOD…` must appear in the global feeds, `HMBAD…` and
//! `HMPRIV…` must appear in no output at all. Faults (a killed build, a failing write, a
//! killed server) are tested at the end.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use support::{request, Site};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hostile/content");

const CONFIG: &str =
    "items_per_feed: 1000\ntaxonomies: [categories]\nmax_post_bytes: 100000\nwatch: off\n";

/// A site holding the corpus and the generated cases.
fn hostile_site() -> Site {
    let site = Site::new(CONFIG);
    support::copy_dir(Path::new(CORPUS), &site.content());
    generate(&site.content());
    site
}

fn post(marker: &str, date: &str) -> String {
    format!("---\ntitle: Generated {marker}\ndate: {date}\n---\nbody\n")
}

/// The cases that cannot (or should not) live in git.
fn generate(content: &Path) {
    let w = |rel: &[u8], bytes: &[u8]| {
        let path = content.join(std::ffi::OsStr::from_bytes(rel));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    // Over the size cap (100 000 bytes in this site's config).
    let big = format!(
        "{}{}",
        post("HMBADovercap", "2021-08-01"),
        "x".repeat(150_000)
    );
    w(b"gen/over-cap.md", big.as_bytes());
    // Thousands of unknown keys.
    let keys: String = (0..3000).map(|i| format!("k{i}: v{i}\n")).collect();
    let many = format!("---\ntitle: Many keys HMGOODmanykeys\ndate: 2021-08-02\n{keys}---\n");
    w(b"gen/thousands-of-keys.md", many.as_bytes());
    // Names with a newline, and not UTF-8 at all.
    w(
        b"gen/new\nline.md",
        post("HMGOODnewline", "2021-08-03").as_bytes(),
    );
    w(
        b"gen/caf\xe9.md",
        post("HMBADlatin1name", "2021-08-04").as_bytes(),
    );
    // Deeply nested folders.
    let deep: String = (0..40).map(|i| format!("d{i}/")).collect();
    w(
        format!("deep/{deep}post.md").as_bytes(),
        post("HMGOODdeep", "2021-08-05").as_bytes(),
    );
    // Hidden folders, editor droppings: skipped without a word.
    w(
        b".git/HEAD.md",
        post("HMBADgitfolder", "2021-08-06").as_bytes(),
    );
    w(
        b"gen/.hidden/post.md",
        post("HMBADhiddenfolder", "2021-08-06").as_bytes(),
    );
    for (i, name) in [
        "post.md~",
        "#post.md#",
        ".#post.md",
        "post.md.swp",
        ".post.md.swp",
        "post.md.tmp",
    ]
    .iter()
    .enumerate()
    {
        let marker = format!("HMBADdropping{i}");
        w(
            format!("gen/{name}").as_bytes(),
            post(&marker, "2021-08-07").as_bytes(),
        );
    }
    // Symlinks: out of the tree, broken, and a loop.
    let tree = content.join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", tree.join("post.md")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/x.md", tree.join("broken.md")).unwrap();
    std::os::unix::fs::symlink(".", tree.join("loop")).unwrap();
    std::os::unix::fs::symlink("/etc", tree.join("etc")).unwrap();
    // A FIFO named like a post: never opened (a read would block).
    let fifo = std::ffi::CString::new(tree.join("fifo.md").as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    // Unreadable. Tests run as root here, which reads it anyway: see `unreadable_expected`.
    let unreadable = tree.join("unreadable.md");
    std::fs::write(&unreadable, post("HMUNREAD", "2021-08-08")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o000)).unwrap();
}

/// Whether this process can read a mode-000 file (root can): then it is published.
fn unreadable_is_readable() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Every problem `herald check` must report: path under the content dir, line, reason.
const PROBLEMS: &[(&str, Option<usize>, &str)] = &[
    ("fm/missing.md", Some(1), "no front matter"),
    ("fm/unclosed.md", Some(1), "never closed"),
    ("fm/yaml-tabs.md", Some(5), "YAML front matter"),
    ("fm/yaml-unterminated-quote.md", None, "quoted scalar"),
    ("fm/yaml-wrong-type-date.md", Some(3), "must be a date"),
    (
        "fm/yaml-wrong-type-draft.md",
        Some(4),
        "must be true or false",
    ),
    ("fm/empty-block.md", Some(1), "front matter is empty"),
    ("fm/comment-only-block.md", Some(1), "front matter is empty"),
    ("fm/duplicate-keys.md", None, "duplicate entry"),
    ("fm/yaml-alias-bomb.md", None, "repetition limit"),
    ("fm/yaml-deep-nesting.md", Some(4), "nested more than"),
    ("fm/yaml-deep-block-nesting.md", None, "recursion limit"),
    ("fm/toml-deep-nesting.md", Some(4), "recursion limit"),
    ("fm/json-deep-nesting.md", Some(1), "recursion limit"),
    ("fm/toml-with-yaml-syntax.md", Some(2), "TOML front matter"),
    ("fm/yaml-with-toml-syntax.md", Some(2), "must be a mapping"),
    ("fm/toml-opened-yaml-closed.md", Some(1), "never closed"),
    ("fm/json-unterminated.md", None, "JSON front matter"),
    ("files/empty.md", None, "the file is empty"),
    ("files/whitespace-only.md", None, "the file is empty"),
    ("files/binary.md", Some(2), "not valid UTF-8"),
    ("files/latin1.md", Some(2), "not valid UTF-8"),
    ("files/utf16.md", Some(1), "not valid UTF-8"),
    ("dates/pre1990-1989.md", Some(3), "before 1990"),
    (
        "dates/bad-impossible-feb30.md",
        Some(4),
        "not a real calendar date",
    ),
    (
        "dates/bad-impossible-hour.md",
        Some(4),
        "not a real time of day",
    ),
    (
        "dates/bad-impossible-month.md",
        Some(4),
        "not a real calendar date",
    ),
    ("dates/bad-zero-date.md", Some(4), "placeholder"),
    ("dates/bad-epoch.md", Some(4), "before 1990"),
    ("dates/bad-words.md", Some(4), "is not a date"),
    ("dates/bad-number.md", Some(4), "must be a date"),
    ("dates/bad-bool.md", Some(4), "must be a date"),
    ("rules/draft-bad.md", Some(4), "`draft: maybe`"),
    ("rules/feed-bad.md", Some(4), "`feed: perhaps`"),
    ("ids/b-second.md", None, "same id as ids/a-first.md"),
    ("ids/slug-b.md", None, "same id as ids/slug-a.md"),
    ("ids/stem.md", None, "same id as ids/stem.markdown"),
    ("gen/over-cap.md", None, "max_post_bytes"),
    ("gen/caf\u{fffd}.md", None, "not valid UTF-8"),
    ("tree/post.md", None, "outside the content directory"),
    ("tree/etc", None, "outside the content directory"),
    ("tree/broken.md", None, "broken symlink"),
    ("tree/loop", None, "symlink loop"),
];

/// Markers found in the corpus and generated files, by kind.
#[derive(Default, Debug)]
struct Markers {
    good: BTreeSet<String>,
    bad: BTreeSet<String>,
}

fn markers(content: &Path) -> Markers {
    let mut out = Markers::default();
    for entry in walkdir::WalkDir::new(content) {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        for (kind, prefix) in [
            ("good", &b"HMGOOD"[..]),
            ("bad", b"HMBAD"),
            ("bad", b"HMPRIV"),
        ] {
            let mut i = 0;
            while let Some(at) = find(&bytes[i..], prefix) {
                let start = i + at;
                let end = bytes[start + prefix.len()..]
                    .iter()
                    .position(|b| !b.is_ascii_alphanumeric())
                    .map_or(bytes.len(), |e| start + prefix.len() + e);
                let marker = String::from_utf8_lossy(&bytes[start..end]).into_owned();
                if kind == "good" {
                    out.good.insert(marker);
                } else {
                    out.bad.insert(marker);
                }
                i = end;
            }
        }
    }
    if unreadable_is_readable() {
        out.good.insert("HMUNREAD".into());
    } else {
        out.bad.insert("HMUNREAD".into());
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Every file under `dir` (relative path → bytes), refusing anything but plain files and
/// folders, and anything that is not inside `dir`.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let root = dir.canonicalize().unwrap();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.unwrap();
        assert!(
            !entry.file_type().is_symlink(),
            "build wrote a symlink: {:?}",
            entry.path()
        );
        assert!(entry.path().canonicalize().unwrap().starts_with(&root));
    }
    support::tree(dir)
}

fn schema() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("schemas/jsonfeed-1.1.schema.json")).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

/// Strict XML 1.0, feed-rs and the JSON Feed 1.1 schema on every feed of a build.
fn assert_feeds_valid(files: &BTreeMap<String, Vec<u8>>) {
    let schema = schema();
    let mut feeds = 0;
    for (path, bytes) in files {
        if path.ends_with(".gz") || path.ends_with(".br") {
            continue;
        }
        let text = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        if path.ends_with(".xml") || path.ends_with(".opml") {
            roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{path}: {e}\n{text}"));
        }
        if path.ends_with("rss.xml") || path.ends_with("atom.xml") {
            feed_rs::parser::parse(bytes.as_slice()).unwrap_or_else(|e| panic!("{path}: {e}"));
            feeds += 1;
        }
        if path.ends_with(".json") {
            let value: serde_json::Value =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{path}: {e}"));
            if path.ends_with("feed.json") {
                let errors: Vec<String> = schema
                    .iter_errors(&value)
                    .map(|e| format!("{e} at {}", e.instance_path))
                    .collect();
                assert!(errors.is_empty(), "{path}: {errors:#?}");
                feeds += 1;
            }
        }
    }
    assert!(feeds > 30, "only {feeds} feeds");
}

/// Every GOOD marker in the global RSS, Atom and JSON feeds; no BAD/PRIV marker anywhere.
fn assert_markers(files: &BTreeMap<String, Vec<u8>>, markers: &Markers) {
    for global in ["rss.xml", "atom.xml", "feed.json"] {
        let text = String::from_utf8_lossy(&files[global]);
        let missing: Vec<&String> = markers
            .good
            .iter()
            .filter(|m| !text.contains(m.as_str()))
            .collect();
        assert!(missing.is_empty(), "{global} lacks good posts {missing:?}");
    }
    for (path, bytes) in files {
        if path.ends_with(".gz") || path.ends_with(".br") {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        let leaked: Vec<&String> = markers
            .bad
            .iter()
            .filter(|m| text.contains(m.as_str()))
            .collect();
        assert!(leaked.is_empty(), "{path} leaks {leaked:?}");
        assert!(!text.contains("root:x:0:0"), "{path} leaks /etc/passwd");
        // Sanitized bodies: no script, no event handler, no javascript: URL, in any escaping.
        let lower = text.to_lowercase();
        for attr in ["href", "src", "action", "data"] {
            for quote in ["\"", "\\\"", "&quot;", "&#34;"] {
                let bad = format!("{attr}={quote}javascript:");
                assert!(!lower.contains(&bad), "{path} has {bad}");
            }
        }
        for handler in ["onerror=", "onclick=", "onload="] {
            assert!(!lower.contains(handler), "{path} has {handler}");
        }
    }
}

#[test]
fn check_lists_every_bad_file_with_its_reason_and_fails() {
    let site = hostile_site();
    let out = site.run(&["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    // Undated files are pages (as in Hugo, where they are documentation), not broken posts:
    // never published (their HMBAD markers) and never reported.
    assert!(!stdout.contains("no-date.md"), "{stdout}");
    assert!(!stdout.contains("bad-empty-quoted.md"), "{stdout}");
    let content = site.content();
    let mut missing = Vec::new();
    for (path, line, reason) in PROBLEMS {
        let prefix = match line {
            Some(l) => format!("{}:{l}: ", content.join(path).display()),
            None => format!("{}", content.join(path).display()),
        };
        if !stdout
            .lines()
            .any(|l| l.starts_with(&prefix) && l.contains(reason))
        {
            missing.push(format!("{prefix} … {reason}"));
        }
    }
    assert!(
        missing.is_empty(),
        "not reported as expected: {missing:#?}\n{stdout}"
    );
    // Nothing else is reported as an error: good and private files are fine.
    let errors = stdout
        .lines()
        .filter(|l| l.starts_with(content.to_str().unwrap()) && !l.contains(": warning: "))
        .count();
    assert_eq!(errors, PROBLEMS.len(), "{stdout}");
    // Warnings (mojibake, capped terms) are listed too, and do not count as problems.
    assert!(
        stdout.contains("mojibake/emdash.md:5: warning: mojibake"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cats/huge-list.md:4: warning: `tags` lists more than"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{} problems", PROBLEMS.len())),
        "{stdout}"
    );
}

#[test]
fn build_publishes_every_good_post_and_nothing_else_in_valid_feeds() {
    let site = hostile_site();
    let out_dir = site.dir.path().join("public");
    let out = site.run(&["build", "--out", out_dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = tree(&out_dir);
    assert_feeds_valid(&files);
    assert_markers(&files, &markers(&site.content()));
    // Private posts are newer than every good one: they must not move any date.
    let rss = String::from_utf8_lossy(&files["rss.xml"]).into_owned();
    let last_build = between(&rss, "<lastBuildDate>", "</lastBuildDate>");
    assert!(last_build.contains("2021"), "lastBuildDate {last_build}");
    // Categories merged by slug, punctuated names kept apart, nothing escapes.
    let dirs: BTreeSet<&str> = files
        .keys()
        .filter_map(|p| p.strip_prefix("categories/"))
        .filter_map(|p| p.split('/').next())
        .collect();
    assert!(dirs.contains("wearables"));
    assert_eq!(
        dirs.iter().filter(|d| d.starts_with("c-")).count(),
        2,
        "C++ and C#: {dirs:?}"
    );
    for d in &dirs {
        assert!(
            d.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{d:?}"
        );
    }
    assert!(!site.dir.path().join("etc").exists() && !Path::new("/tmp/etc/rss.xml").exists());
    // The mojibake is published as written (repair is opt-in).
    assert!(String::from_utf8_lossy(&files["feed.json"]).contains("\u{e2}\u{20ac}\u{201d}"));
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).expect(open) + open.len();
    let end = text[start..].find(close).expect(close) + start;
    &text[start..end]
}

#[test]
fn repair_mojibake_publishes_the_meant_characters() {
    let site = Site::new("repair_mojibake: true\n");
    std::fs::copy(
        Path::new(CORPUS).join("mojibake/emdash.md"),
        site.content().join("emdash.md"),
    )
    .unwrap();
    let out = site.run(&["check"]);
    assert_eq!(out.status.code(), Some(0), "warnings do not fail check");
    assert!(String::from_utf8_lossy(&out.stdout).contains("; repaired"));
    let out_dir = site.dir.path().join("public");
    assert!(site
        .run(&["build", "--out", out_dir.to_str().unwrap()])
        .status
        .success());
    let json = std::fs::read_to_string(out_dir.join("feed.json")).unwrap();
    assert!(
        json.contains("litigation — all of which; don’t; café"),
        "{json}"
    );
}

#[test]
fn serve_publishes_the_same_as_build() {
    let site = hostile_site();
    let server = site.serve();
    let markers = markers(&site.content());
    let mut files = BTreeMap::new();
    let list: serde_json::Value =
        serde_json::from_slice(&server.get("/feeds.json", &[]).body).unwrap();
    let mut paths = vec!["/".to_string(), "/feeds.opml".into(), "/feeds.json".into()];
    for feed in list
        .as_array()
        .or_else(|| list["feeds"].as_array())
        .unwrap()
    {
        for key in ["rss", "atom", "json", "rss_url", "atom_url", "json_url"] {
            if let Some(url) = feed.get(key).and_then(|u| u.as_str()) {
                paths.push(
                    url.trim_start_matches("https://feeds.example.org")
                        .to_string(),
                );
            }
        }
    }
    assert!(paths.len() > 30, "{list}");
    for path in paths {
        let r = server.get(&path, &[]);
        assert_eq!(r.status, 200, "{path}");
        let rel = path.trim_start_matches('/');
        let rel = if rel.is_empty() {
            "index.html".to_string()
        } else {
            rel.to_string()
        };
        files.insert(rel, r.body);
    }
    assert_feeds_valid(&files);
    assert_markers(&files, &markers);
}

// --- Faults ---------------------------------------------------------------------------

/// A corpus big enough that a build takes a while: `n` posts in `n / 10` categories.
fn big_site(n: usize) -> Site {
    let site = Site::new("items_per_feed: 200\nwatch: off\n");
    for i in 0..n {
        site.write(
            &format!("post/p{i}.md"),
            &format!(
                "---\ntitle: Post {i}\ndate: 2021-01-01T00:{:02}:{:02}Z\ncategories: [c{}]\n---\n{}\n",
                (i / 60) % 60,
                i % 60,
                i % (n / 10).max(1),
                "Some body text. ".repeat(50)
            ),
        );
    }
    site
}

#[test]
fn a_build_killed_mid_write_leaves_the_previous_output_whole() {
    let site = big_site(3000);
    let out_dir = site.dir.path().join("public");
    let out = site.run(&["build", "--out", out_dir.to_str().unwrap()]);
    assert!(out.status.success());
    let before = tree(&out_dir);
    assert!(before.len() > 300);
    // Change the content so a finished build would differ, then kill builds at several
    // moments: early (reading), middle (rendering), late (writing the staging folder).
    site.write("post/p0.md", "---\ntitle: Changed\ndate: 2022-01-01\n---\n");
    let started = std::time::Instant::now();
    let scratch = site.dir.path().join("scratch");
    let full = site.run(&["build", "--out", scratch.to_str().unwrap()]);
    assert!(full.status.success());
    let after = tree(&scratch);
    assert_ne!(after, before);
    let build_time = started.elapsed();
    for fraction in [0.2, 0.5, 0.8, 0.95] {
        let mut child = std::process::Command::new(support::BIN)
            .args(["build", "--out"])
            .arg(&out_dir)
            .arg("--config")
            .arg(site.config())
            .env("RUST_LOG", "off")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(build_time.mul_f64(fraction));
        let _ = child.kill(); // SIGKILL, unless it already exited
        let status = child.wait().unwrap();
        // It may have won the race: then the output is the new one, whole (checked below).
        let finished = std::os::unix::process::ExitStatusExt::signal(&status).is_none();
        let now = tree(&out_dir);
        // Killed before the atomic swap: the old output; after it: the new one. Never a mix.
        assert!(
            now == before || now == after,
            "killed at {fraction}: the output is neither the previous nor the next one"
        );
        if finished || now == after {
            break;
        }
    }
    // Whatever happened, the next build completes and cleans up its staging folders' mess.
    assert!(site
        .run(&["build", "--out", out_dir.to_str().unwrap()])
        .status
        .success());
    assert!(String::from_utf8_lossy(&tree(&out_dir)["rss.xml"]).contains("Changed"));
}

#[test]
fn a_failing_write_names_the_path_and_keeps_the_previous_output() {
    let site = big_site(20);
    let out_dir = site.dir.path().join("public");
    assert!(site
        .run(&["build", "--out", out_dir.to_str().unwrap()])
        .status
        .success());
    let before = tree(&out_dir);
    // Root ignores permission bits, so make the write fail honestly: the output's parent
    // is a regular file.
    let file = site.dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let target = file.join("public");
    let out = site.run(&["build", "--out", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(file.to_str().unwrap()), "{stderr}");
    assert_eq!(tree(&out_dir), before);
}

#[test]
fn a_server_killed_and_restarted_serves_byte_identical_feeds_and_etags() {
    let site = Site::sample();
    let paths = ["/rss.xml", "/atom.xml", "/feed.json", "/feeds.opml", "/"];
    type Seen = (u16, Option<String>, Option<String>, Vec<u8>);
    let fetch = |server: &support::Server| -> Vec<Seen> {
        let mut out = Vec::new();
        for path in paths {
            for enc in ["identity", "gzip", "br"] {
                let r = server.get(path, &[("Accept-Encoding", enc)]);
                out.push((
                    r.status,
                    r.header("etag").map(Into::into),
                    r.header("last-modified").map(Into::into),
                    r.body,
                ));
            }
        }
        out
    };
    // gzip and brotli variants are compressed in the background after a (re)start; until
    // they exist a reader gets identity. Compare the settled state: every variant served.
    let settled = |server: &support::Server| -> Vec<Seen> {
        support::eventually(std::time::Duration::from_secs(15), || {
            let seen = fetch(server);
            let compressed = seen.chunks(3).all(|per_path| {
                let tag = |i: usize| per_path[i].1.clone().unwrap_or_default();
                tag(1).ends_with("-gz\"") && tag(2).ends_with("-br\"")
            });
            compressed.then_some(seen)
        })
    };
    let mut first = site.serve();
    let before = settled(&first);
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    drop(first);
    let second = site.serve();
    // Compared field by field so a failure does not print every body.
    let after = settled(&second);
    assert_eq!(after.len(), before.len());
    for (i, (a, b)) in after.iter().zip(&before).enumerate() {
        assert_eq!((a.0, &a.1, &a.2), (b.0, &b.1, &b.2), "response {i}");
        assert!(a.3 == b.3, "response {i}: the body differs after a restart");
    }
}

// --- Hostile clients --------------------------------------------------------------------

/// Raises this process's open-file limit as far as the hard limit allows.
fn raise_fd_limit(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = want.min(lim.rlim_max);
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

/// Reads one HTTP/1.1 response (headers and a Content-Length body) from a keep-alive stream.
fn read_response(
    stream: &mut std::io::BufReader<std::net::TcpStream>,
) -> std::io::Result<(u16, BTreeMap<String, String>)> {
    use std::io::{BufRead, Read};
    let mut status_line = String::new();
    if stream.read_line(&mut status_line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        stream.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    stream.read_exact(&mut body)?;
    Ok((status, headers))
}

#[test]
fn a_thousand_keep_alive_clients_polling_with_conditional_get_get_no_errors() {
    let limit = raise_fd_limit(4096);
    let clients = if limit >= 2200 {
        1000
    } else {
        ((limit as usize).saturating_sub(200)) / 2
    };
    let site = Site::new("max_connections: 2048\nwatch: off\n");
    support::copy_dir(&support::sample_content(), &site.content());
    let server = site.serve();
    let etag = server
        .get("/rss.xml", &[])
        .header("etag")
        .unwrap()
        .to_string();
    let addr = server.addr;
    let rounds = 3;
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let etag = etag.clone();
            std::thread::spawn(move || -> Result<usize, String> {
                use std::io::Write;
                let mine = clients / 8 + usize::from(t < clients % 8);
                let mut conns = Vec::new();
                for _ in 0..mine {
                    let s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10))
                        .map_err(|e| format!("connect: {e}"))?;
                    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                    conns.push(std::io::BufReader::new(s));
                }
                let mut ok = 0;
                for _ in 0..rounds {
                    for c in &mut conns {
                        let req = format!(
                            "GET /rss.xml HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n"
                        );
                        c.get_mut()
                            .write_all(req.as_bytes())
                            .map_err(|e| format!("write: {e}"))?;
                    }
                    for c in &mut conns {
                        let (status, headers) =
                            read_response(c).map_err(|e| format!("read: {e}"))?;
                        if status != 304 || headers.get("etag") != Some(&etag) {
                            return Err(format!("status {status}, {headers:?}"));
                        }
                        ok += 1;
                    }
                }
                Ok(ok)
            })
        })
        .collect();
    let mut total = 0;
    for t in threads {
        total += t.join().unwrap().unwrap();
    }
    assert_eq!(total, clients * rounds);
    assert!(clients >= 1000 || limit < 2200, "fd limit {limit}");
}

#[test]
fn slowloris_connections_are_cut_off_while_real_clients_are_served() {
    use std::io::{Read, Write};
    let site = Site::new("header_read_timeout_secs: 1\nwatch: off\n");
    support::copy_dir(&support::sample_content(), &site.content());
    let server = site.serve();
    let addr = server.addr;
    // 200 attackers: half send nothing, half dribble a header a byte at a time.
    let mut silent = Vec::new();
    for _ in 0..100 {
        silent.push(std::net::TcpStream::connect(addr).unwrap());
    }
    let dribblers: Vec<_> = (0..100)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                let started = std::time::Instant::now();
                let line = b"GET /rss.xml HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
                for b in line.iter().cycle() {
                    if s.write_all(&[*b]).is_err() || started.elapsed() > Duration::from_secs(8) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                started.elapsed()
            })
        })
        .collect();
    // Real clients keep getting answers during the attack.
    for _ in 0..20 {
        let r = request(addr, "GET", "/rss.xml", &[]);
        assert_eq!(r.status, 200);
        std::thread::sleep(Duration::from_millis(100));
    }
    // The silent ones were closed: reading gives EOF (or a 408) soon after the timeout.
    for mut s in silent {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        let r = s.read_to_end(&mut buf);
        assert!(r.is_ok(), "silent connection not closed: {r:?}");
    }
    for d in dribblers {
        let lasted = d.join().unwrap();
        assert!(
            lasted < Duration::from_secs(8),
            "a dribbler was never cut off ({lasted:?})"
        );
    }
}

#[test]
fn oversized_and_malformed_requests_get_sane_statuses() {
    use std::io::{Read, Write};
    let site = Site::sample();
    let server = site.serve();
    let raw = |req: Vec<u8>| -> u16 {
        let mut s = std::net::TcpStream::connect(server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(&req);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let head = String::from_utf8_lossy(&buf);
        head.split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    let long_path = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100_000));
    let status = raw(long_path.into_bytes());
    assert!(
        matches!(status, 414 | 431 | 400),
        "long request line: {status}"
    );
    let long_header = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(100_000)
    );
    let status = raw(long_header.into_bytes());
    assert!(matches!(status, 431 | 400), "long header: {status}");
    let many: String = (0..500).map(|i| format!("X-H{i}: v\r\n")).collect();
    let status = raw(format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").into_bytes());
    assert!(matches!(status, 431 | 400), "many headers: {status}");
    assert_eq!(raw(b"\x00\x01\x02garbage\r\n\r\n".to_vec()), 400);
    // Malformed conditional and negotiation headers: answered, never a 5xx.
    let etag = server
        .get("/rss.xml", &[])
        .header("etag")
        .unwrap()
        .to_string();
    for (name, value) in [
        ("If-None-Match", "\"unterminated"),
        ("If-None-Match", "W/"),
        ("If-None-Match", ",,,,"),
        ("If-None-Match", "*, garbage\""),
        ("If-Modified-Since", "yesterday"),
        ("If-Modified-Since", "Sun, 99 Foo 99999 99:99:99 GMT"),
        ("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT"),
        ("Accept-Encoding", "gzip;q=banana, br;q=-1, *;q=2"),
        ("Accept-Encoding", ";;;,,,q=0"),
        ("Accept-Encoding", "identity;q=0, *;q=0"),
    ] {
        let r = server.get("/rss.xml", &[(name, value)]);
        assert!(
            r.status == 200 || r.status == 304 || r.status == 400,
            "{name}: {value} → {}",
            r.status
        );
    }
    let r = server.get(
        "/rss.xml",
        &[("If-None-Match", &format!("garbage, {etag}"))],
    );
    assert_eq!(r.status, 304);
    // Non-UTF-8 bytes in header values.
    let status = raw(b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"\xff\xfe\"\r\nAccept-Encoding: \xff\r\nConnection: close\r\n\r\n".to_vec());
    assert_eq!(status, 200);
}
