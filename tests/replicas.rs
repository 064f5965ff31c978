//! Interchangeable replicas (issue 13): two Herald instances on two copies of the same
//! content give byte-identical bodies and ETags for every path and coding. A copy is what
//! `rsync`, `git clone` or `cp` make: the same bytes, but other mtimes, other inode and
//! creation order, so another directory listing order. Checked for `herald build` (every
//! output file, byte for byte, and the mtimes it sets) and for two `herald serve`s (every
//! served path × identity, gzip and br). And a replica that has not yet seen a change keeps
//! serving the previous version whole, while the other serves the new one whole.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{eventually, Server, Site};

const DEADLINE: Duration = Duration::from_secs(30);
const CODINGS: [&str; 3] = ["identity", "gzip", "br"];
/// Response headers that must be the same on every replica.
const SAME: [&str; 6] = [
    "etag",
    "content-type",
    "cache-control",
    "vary",
    "content-encoding",
    "content-length",
];

/// A small site as a team writes it: a Hugo configuration (permalinks, taxonomies,
/// summary length), posts in several sections and formats (YAML, TOML, JSON front matter),
/// categories and tags, a page bundle with an image, a section `_index.md` with a
/// cascade, a draft, a future post and a page without a date.
fn fixture() -> Vec<(&'static str, Vec<u8>)> {
    let text = |s: &str| s.as_bytes().to_vec();
    vec![
        (
            "post/_index.md",
            text("---\ntitle: Posts\ncascade:\n  author: The Team\n---\nAll posts.\n"),
        ),
        (
            "post/first-light.md",
            text("---\ntitle: First light\ndate: 2024-03-01T09:00:00Z\ncategories: [Astronomy, Gear]\ntags: [night]\ndescription: The telescope arrives.\n---\nWe unpacked the **telescope**. See [the gear post](/post/tripods/).\n"),
        ),
        (
            "post/tripods.md",
            text("+++\ntitle = \"Tripods compared\"\ndate = 2024-03-05T18:30:00+01:00\ncategories = [\"Gear\"]\ntags = [\"reviews\", \"night\"]\n+++\nThree tripods, one winner.\n\n<!--more-->\n\nThe long part of the review.\n"),
        ),
        (
            "post/comet/index.md",
            text("---\ntitle: A comet, photographed\ndate: 2024-04-10 22:15:00\ncategories: [Astronomy]\nfeaturedImage: comet.jpg\n---\n![The comet over the hill](comet.jpg)\n\nTaken from the hill behind the village.\n"),
        ),
        (
            "post/comet/comet.jpg",
            [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1]
                .into_iter()
                .chain((0..4000u32).map(|i| (i * 7 % 251) as u8))
                .collect(),
        ),
        (
            "post/meteors.md",
            text("{\n  \"title\": \"Meteor night\",\n  \"date\": \"2024-08-12T23:00:00Z\",\n  \"categories\": [\"Astronomy\", \"Events\"],\n  \"lastmod\": \"2024-08-14T08:00:00Z\"\n}\nCounting meteors until dawn.\n"),
        ),
        (
            "notes/eyepieces.md",
            text("---\ntitle: Notes on eyepieces\ndate: 2023-11-20\ncategories: [gear]\nsummary: Short notes.\n---\n| focal | field |\n|---|---|\n| 25 mm | wide |\n"),
        ),
        (
            "notes/draft-ideas.md",
            text("---\ntitle: Unpublished ideas\ndate: 2024-01-01\ndraft: true\ncategories: [Secret]\n---\nREPLICA-DRAFT-MARKER\n"),
        ),
        (
            "notes/next-year.md",
            text("---\ntitle: Next year\ndate: 2999-01-01\ncategories: [Astronomy]\n---\nREPLICA-FUTURE-MARKER\n"),
        ),
        (
            "about.md",
            text("---\ntitle: About us\n---\nA page without a date is not a post.\n"),
        ),
    ]
}

const HUGO_TOML: &str = "summaryLength = 12\n[permalinks]\npost = '/:year/:month/:slug/'\n[taxonomies]\ncategory = 'categories'\ntag = 'tags'\n";

/// A site (config + Hugo config) in `dir` holding `files`, written in the given order,
/// each file given the modification time `mtime(i)`.
fn site_with(
    dir: tempfile::TempDir,
    files: &[(&'static str, Vec<u8>)],
    mtime: impl Fn(usize) -> SystemTime,
) -> Site {
    let site = Site::new_in(dir, "hugo_site: .\n");
    std::fs::write(site.dir.path().join("hugo.toml"), HUGO_TOML).unwrap();
    for (i, (rel, bytes)) in files.iter().enumerate() {
        let path = site.content().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(mtime(i)).unwrap();
    }
    site
}

/// The original and its copy: the copy's files created in reverse order, with other
/// times, and (where there is one) on a tmpfs, which lists a folder in reverse creation
/// order, while ext4 lists by a hash of the names: so the two list their folders in
/// different orders too.
fn original_and_copy() -> (Site, Site) {
    let files = fixture();
    let original = site_with(tempfile::tempdir().unwrap(), &files, |i| {
        at(1_600_000_000 + 3_600 * i as u64)
    });
    let mut reversed = files.clone();
    reversed.reverse();
    let shm = Path::new("/dev/shm");
    let elsewhere = shm
        .is_dir()
        .then(|| tempfile::tempdir_in(shm).ok())
        .flatten();
    let on_tmpfs = elsewhere.is_some();
    let dir = elsewhere.unwrap_or_else(|| tempfile::tempdir().unwrap());
    let copy = site_with(dir, &reversed, |i| at(1_750_000_000 - 61 * i as u64));
    // They are copies: the same bytes, other times.
    assert_eq!(
        support::tree(&original.content()),
        support::tree(&copy.content())
    );
    let mtime = |site: &Site| {
        std::fs::metadata(site.content().join("post/tripods.md"))
            .unwrap()
            .modified()
            .unwrap()
    };
    assert_ne!(mtime(&original), mtime(&copy));
    let listing = |site: &Site| -> Vec<Vec<std::ffi::OsString>> {
        ["", "post", "notes"]
            .iter()
            .map(|d| {
                std::fs::read_dir(site.content().join(d))
                    .unwrap()
                    .map(|e| e.unwrap().file_name())
                    .collect()
            })
            .collect()
    };
    if on_tmpfs {
        assert_ne!(
            listing(&original),
            listing(&copy),
            "listed in the same order"
        );
    } else {
        eprintln!("no /dev/shm: both copies on one file system, maybe listed alike");
    }
    (original, copy)
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn build(site: &Site) -> std::path::PathBuf {
    let out = site.dir.path().join("public");
    let run = site.run(&["build", "--out", out.to_str().unwrap()]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    out
}

/// Every served path of a build, from its files, with the codings written beside it.
fn built_paths(out: &Path) -> BTreeMap<String, Vec<&'static str>> {
    let tree = support::tree(out);
    let mut paths = BTreeMap::new();
    for rel in tree.keys() {
        if rel.ends_with(".gz") || rel.ends_with(".br") || rel.starts_with(".herald/") {
            continue;
        }
        let url = format!("/{}", rel.strip_suffix("index.html").unwrap_or(rel));
        let codings = CODINGS
            .into_iter()
            .filter(|c| match *c {
                "gzip" => tree.contains_key(&format!("{rel}.gz")),
                "br" => tree.contains_key(&format!("{rel}.br")),
                _ => true,
            })
            .collect();
        paths.insert(url, codings);
    }
    paths
}

/// What one request got: status, the headers that must match, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    status: u16,
    headers: Vec<(&'static str, Option<String>)>,
    body: Vec<u8>,
}

type Served = BTreeMap<(String, &'static str), Seen>;

fn fetch(server: &Server, paths: &BTreeMap<String, Vec<&'static str>>) -> Served {
    let mut out = BTreeMap::new();
    for path in paths.keys() {
        for coding in CODINGS {
            let r = server.get(path, &[("Accept-Encoding", coding)]);
            let headers = SAME
                .into_iter()
                .map(|h| (h, r.header(h).map(str::to_owned)))
                .collect();
            out.insert(
                (path.clone(), coding),
                Seen {
                    status: r.status,
                    headers,
                    body: r.body,
                },
            );
        }
    }
    out
}

/// Waits until `server` offers every coding the build wrote (serve compresses in the
/// background after a start or an edit), then returns what it serves.
fn settled(server: &Server, paths: &BTreeMap<String, Vec<&'static str>>) -> Served {
    eventually(DEADLINE, || {
        let seen = fetch(server, paths);
        let done = paths.iter().all(|(path, codings)| {
            codings.iter().all(|&c| {
                let encoding = seen[&(path.clone(), c)].headers[4].1.as_deref();
                encoding == (c != "identity").then_some(c)
            })
        });
        done.then_some(seen)
    })
}

/// Every difference between what two replicas served, one line each.
fn differences(a: &Served, b: &Served) -> Vec<String> {
    let mut out = Vec::new();
    for (key, x) in a {
        let Some(y) = b.get(key) else {
            out.push(format!("{key:?}: only on the first"));
            continue;
        };
        if x.status != y.status {
            out.push(format!("{key:?}: status {} vs {}", x.status, y.status));
        }
        if x.body != y.body {
            out.push(format!(
                "{key:?}: bodies differ ({} vs {} bytes)",
                x.body.len(),
                y.body.len()
            ));
        }
        for (h, v) in &x.headers {
            let w = &y.headers.iter().find(|(n, _)| n == h).unwrap().1;
            if v != w {
                out.push(format!("{key:?}: {h}: {v:?} vs {w:?}"));
            }
        }
    }
    out.extend(
        b.keys()
            .filter(|k| !a.contains_key(*k))
            .map(|k| format!("{k:?}: only on the second")),
    );
    out
}

fn decoded(seen: &Seen) -> Vec<u8> {
    let encoding = seen.headers[4].1.as_deref();
    let mut out = Vec::new();
    match encoding {
        None => out = seen.body.clone(),
        Some("gzip") => {
            flate2::read::GzDecoder::new(&seen.body[..])
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("br") => {
            brotli::Decompressor::new(&seen.body[..], 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some(other) => panic!("unexpected coding {other}"),
    }
    out
}

#[test]
fn two_builds_of_two_copies_are_byte_identical_with_the_same_file_times() {
    let (original, copy) = original_and_copy();
    let (a, b) = (build(&original), build(&copy));
    let (ta, tb) = (support::tree(&a), support::tree(&b));
    assert_eq!(
        ta.keys().collect::<Vec<_>>(),
        tb.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (rel, bytes) in &ta {
        assert!(
            tb[rel] == *bytes,
            "{rel} differs between the replicas' builds"
        );
        // The mtime is the resource's Last-Modified, from the content: the same on both, so
        // a static server's Last-Modified and mtime-based ETag are the same too.
        let time = |root: &Path| {
            std::fs::metadata(root.join(rel))
                .unwrap()
                .modified()
                .unwrap()
        };
        assert_eq!(time(&a), time(&b), "{rel}: mtimes differ");
    }
    // The fixture is what it claims: every kind of resource, the bundle's image made
    // absolute, the draft and the future post nowhere.
    for file in [
        "rss.xml",
        "atom.xml.gz",
        "feed.json.br",
        "feeds.opml",
        "feeds.json",
        "index.html",
        "categories/astronomy/rss.xml",
        "categories/gear/feed.json",
        "categories/events/index.html",
        "tags/night/atom.xml",
    ] {
        assert!(ta.contains_key(file), "{file} missing: {:?}", ta.keys());
    }
    let rss = String::from_utf8_lossy(&ta["rss.xml"]);
    assert!(
        rss.contains("https://feeds.example.org/2024/04/a-comet-photographed/comet.jpg")
            || rss.contains("https://feeds.example.org/post/comet/comet.jpg"),
        "{rss}"
    );
    assert!(rss.contains("Meteor night") && rss.contains("Tripods compared"));
    for (rel, bytes) in &ta {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("REPLICA-DRAFT-MARKER"), "draft in {rel}");
        assert!(
            !text.contains("REPLICA-FUTURE-MARKER"),
            "future post in {rel}"
        );
    }
    assert!(
        !ta.keys().any(|k| k.contains("secret")),
        "the draft's category"
    );
}

#[test]
fn two_servers_on_two_copies_serve_the_same_bytes_and_etags_and_an_unseen_change_leaves_the_old_version_whole(
) {
    let (original, copy) = original_and_copy();
    let out = build(&original);
    let paths = built_paths(&out);
    assert!(paths.len() > 20, "{paths:?}");
    let (a, b) = (original.serve(), copy.serve());

    // Every feed /feeds.json lists and every feed in the OPML list is among the paths.
    let list: serde_json::Value = serde_json::from_slice(&a.get("/feeds.json", &[]).body).unwrap();
    let opml = a.get("/feeds.opml", &[]).text();
    for feed in list["feeds"].as_array().unwrap() {
        for key in ["rss", "atom", "json"] {
            let url = feed[key].as_str().unwrap();
            let path = url.strip_prefix("https://feeds.example.org").unwrap();
            assert!(paths.contains_key(path), "{path} listed but not built");
            if key == "rss" {
                assert!(opml.contains(url), "{url} not in the OPML list");
            }
        }
    }

    let (seen_a, seen_b) = (settled(&a, &paths), settled(&b, &paths));
    let diff = differences(&seen_a, &seen_b);
    assert!(diff.is_empty(), "the replicas differ:\n{}", diff.join("\n"));
    // Last-Modified too: both start without history, so both take the content's date.
    for path in paths.keys() {
        let lm = |s: &Server| s.get(path, &[]).header("last-modified").map(str::to_owned);
        assert_eq!(lm(&a), lm(&b), "{path}");
    }
    // And serve sends what the build wrote, coding for coding.
    let tree = support::tree(&out);
    for ((path, coding), seen) in &seen_a {
        let rel = support_file(path);
        let file = match *coding {
            "gzip" if tree.contains_key(&format!("{rel}.gz")) => format!("{rel}.gz"),
            "br" if tree.contains_key(&format!("{rel}.br")) => format!("{rel}.br"),
            _ => rel,
        };
        assert!(tree[&file] == seen.body, "{path} [{coding}] is not {file}");
    }

    // A change reaches one replica only. Its twin keeps serving the previous version, every
    // path and coding exactly as before; the changed one serves the new version in every
    // format and coding, never a mix.
    let before = copy.content().join("post/tripods.md");
    let original_text = std::fs::read(&before).unwrap();
    copy.write(
        "post/tripods.md",
        &String::from_utf8_lossy(&original_text)
            .replace("Tripods compared", "Tripods, compared again"),
    );
    eventually(DEADLINE, || {
        let r = b.get("/feed.json", &[]);
        r.text().contains("Tripods, compared again").then_some(())
    });
    let seen_b2 = settled(&b, &paths);
    let diff = differences(&seen_a, &seen_b2);
    assert!(
        diff.iter()
            .any(|d| d.contains("\"/rss.xml\"") && d.contains("etag")),
        "the comparison must see the change: {diff:?}"
    );
    assert_eq!(settled(&a, &paths), seen_a, "the unchanged replica moved");
    for ((path, _), seen) in &seen_b2 {
        let text = String::from_utf8_lossy(&decoded(seen)).into_owned();
        // Every path that shows the post shows its new title, in every coding.
        if text.contains("Tripods") {
            assert!(
                text.contains("Tripods, compared again") && !text.contains("Tripods compared"),
                "{path}: a mix of old and new"
            );
        }
    }
    for path in [
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
        "/categories/gear/rss.xml",
    ] {
        for coding in CODINGS {
            let text = decoded(&seen_b2[&(path.to_string(), coding)]);
            assert!(
                String::from_utf8_lossy(&text).contains("Tripods, compared again"),
                "{path} [{coding}] is not the new version"
            );
        }
    }

    // The change undone on the copy: the replicas are interchangeable again (ETags come
    // from the bytes alone; Last-Modified only moves forward, so it is not compared).
    std::fs::write(&before, &original_text).unwrap();
    eventually(DEADLINE, || {
        let r = b.get("/feed.json", &[]);
        r.text().contains("\"Tripods compared\"").then_some(())
    });
    let diff = differences(&seen_a, &settled(&b, &paths));
    assert!(diff.is_empty(), "after the revert:\n{}", diff.join("\n"));
}

/// The build's file for a served path.
fn support_file(path: &str) -> String {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() || rel.ends_with('/') {
        format!("{rel}index.html")
    } else {
        rel.to_owned()
    }
}
