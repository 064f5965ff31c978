//! What the Debian package ships besides the binary (`[package.metadata.deb]` in
//! Cargo.toml, built by deploy/debian/build): the default /etc/herald/herald.yaml, and the
//! man pages and shell completions `herald generate` writes from the command-line
//! definition. `.ci/run` builds the package, installs it and checks the installed files.

use std::path::Path;
use std::process::Command;

const PACKAGED_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/debian/herald.yaml");

/// The same rule as the unit test of config/herald.yaml: a key is documented when a line,
/// commented out or not, starts with `key:`.
fn documents(text: &str, key: &str) -> bool {
    text.lines().any(|l| {
        l.trim_start_matches(['#', ' '])
            .starts_with(&format!("{key}:"))
    })
}

#[test]
fn the_packaged_config_loads_and_documents_every_key() {
    let text = std::fs::read_to_string(PACKAGED_CONFIG).unwrap();
    let installed = Path::new("/etc/herald/herald.yaml");
    let settings = herald::config::Config::from_yaml(installed, &text)
        .and_then(|config| config.validate(installed))
        .expect("deploy/debian/herald.yaml loads");
    // What the unit needs: an absolute content folder outside /home, a loopback listener
    // on an unprivileged port (the service has no capabilities).
    assert_eq!(settings.content.dir, Path::new("/srv/herald/content"));
    assert_eq!(settings.http.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(
        settings.state_dir, None,
        "the unit's StateDirectory= is used"
    );

    let serde_yaml::Value::Mapping(keys) =
        serde_yaml::to_value(herald::config::Config::default()).unwrap()
    else {
        panic!("the config serializes as a map")
    };
    for key in keys.keys() {
        let key = key.as_str().unwrap();
        assert!(
            documents(&text, key),
            "deploy/debian/herald.yaml does not document `{key}` (config/herald.yaml does)"
        );
    }
}

/// Runs `herald generate` into a fresh folder and returns it.
fn generated() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("generate")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn generate_writes_a_man_page_per_command_from_the_cli_definition() {
    let dir = generated();
    let mut pages: Vec<String> = std::fs::read_dir(dir.path().join("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "herald-build.1",
            "herald-check.1",
            "herald-serve.1",
            "herald.1"
        ]
    );
    let main = read(dir.path(), "man/herald.1");
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        main.lines()
            .any(|l| l.starts_with(".TH herald 1 ") && l.contains(version)),
        "{main}"
    );
    for section in ["NAME", "SYNOPSIS", "SUBCOMMANDS", "EXIT STATUS", "FILES"] {
        assert!(
            main.lines()
                .any(|l| l == format!(".SH {section}") || l == format!(".SH \"{section}\"")),
            "herald.1 has no {section} section:\n{main}"
        );
    }
    assert!(main.contains("/etc/herald/herald.yaml"), "{main}");
    let serve = read(dir.path(), "man/herald-serve.1");
    assert!(serve.contains(".TH herald-serve 1 "), "{serve}");
    // Each subcommand's page has its own options, as clap parses them.
    for option in ["config", "hugo\\-site", "hugo\\-data", "listen"] {
        assert!(
            serve.contains(&format!("\\-\\-{option}")),
            "--{option}:\n{serve}"
        );
    }
    assert!(read(dir.path(), "man/herald-build.1").contains("\\-\\-out"));
    // The packaging command is not part of the public command line.
    for page in &pages {
        assert!(!read(dir.path(), &format!("man/{page}")).contains("generate"));
    }
}

#[test]
fn generate_writes_completions_for_bash_zsh_and_fish() {
    let dir = generated();
    for file in [
        "completions/herald.bash",
        "completions/_herald",
        "completions/herald.fish",
    ] {
        let script = read(dir.path(), file);
        for word in ["serve", "build", "check", "hugo-site", "listen", "out"] {
            assert!(script.contains(word), "{file} does not complete {word}");
        }
        assert!(!script.contains("generate"), "{file} offers `generate`");
    }
    assert!(read(dir.path(), "completions/_herald").starts_with("#compdef herald"));
    // bash is everywhere the package is installed: the script must at least parse.
    let bash = Command::new("bash")
        .arg("-n")
        .arg(dir.path().join("completions/herald.bash"))
        .output()
        .unwrap();
    assert!(
        bash.status.success(),
        "{}",
        String::from_utf8_lossy(&bash.stderr)
    );
}

#[test]
fn help_does_not_list_the_packaging_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        help.contains("serve") && !help.contains("generate"),
        "{help}"
    );
}
