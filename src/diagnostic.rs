//! What Herald says about the content: one [`Diagnostic`] per problem or warning, naming
//! the file (and the line, where there is one), and one printer for all of them
//! ([`show`]), used by `herald check` and by the serve log alike.

use std::path::Path;

/// Whether a diagnostic keeps the file out of the feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The file cannot be used (its last good version, if any, stays published).
    Error,
    /// Reported, never blocking: mojibake, dropped terms, unknown shortcodes.
    Warning,
}

/// One thing to tell the operator about one file. Displays as `path:line: message`
/// (ripgrep style), with `warning: ` before the message of a warning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}{}: {}{message}", line.map(|l| format!(":{l}")).unwrap_or_default(), severity.prefix())]
pub struct Diagnostic {
    /// Source path relative to the content dir.
    pub path: String,
    /// 1-based line in the file, where there is one.
    pub line: Option<usize>,
    pub severity: Severity,
    pub message: String,
}

impl Severity {
    fn prefix(self) -> &'static str {
        match self {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        }
    }
}

impl Diagnostic {
    pub fn error(path: impl Into<String>, line: Option<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.into(),
            line,
            severity: Severity::Error,
            message: message.into(),
        }
    }

    /// The same, as a warning.
    pub fn into_warning(self) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..self
        }
    }

    pub fn is_warning(&self) -> bool {
        self.severity == Severity::Warning
    }
}

/// A diagnostic as the operator opens it: the path under the content dir, the line, then
/// the message. Control characters in a file name (a newline, say) are escaped, so one
/// diagnostic is always one line.
pub fn show(content_dir: &Path, d: &Diagnostic) -> String {
    let path = content_dir.join(&d.path).display().to_string();
    let path: String = path
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    let prefix = d.severity.prefix();
    match d.line {
        Some(line) => format!("{path}:{line}: {prefix}{}", d.message),
        None => format!("{path}: {prefix}{}", d.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_say_so_and_file_names_stay_on_one_line() {
        let e = Diagnostic::error("post/a\nb.md", Some(3), "bad date");
        assert_eq!(
            show(Path::new("content"), &e),
            "content/post/a\\nb.md:3: bad date"
        );
        let w = Diagnostic::error("a.md", None, "mojibake").into_warning();
        assert_eq!(show(Path::new("c"), &w), "c/a.md: warning: mojibake");
        assert_eq!(w.to_string(), "a.md: warning: mojibake");
    }
}
