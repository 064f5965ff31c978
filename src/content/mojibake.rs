//! Mojibake: UTF-8 text that was once decoded as Windows-1252 (or Latin-1) and saved again,
//! so that `—` (bytes E2 80 94) reads `â€”`, `’` reads `â€™` and `é` reads `Ã©`.
//!
//! Detection: a run of characters that each map back to one Windows-1252/Latin-1 byte and
//! whose bytes form a valid multi-byte UTF-8 sequence (lead byte C2–F4 followed by the right
//! number of continuation bytes 80–BF). Genuine text almost never does that: it takes an
//! accented capital or `â` immediately followed by one to three symbols from the 80–BF range
//! (`€`, `”`, `©`, no-break space...). Repair replaces each such sequence by the character it
//! encodes. Detection always runs (and `herald check` reports it); repair is opt-in
//! (`repair_mojibake: true`), because a guess should never silently change what an author
//! wrote. A letter of another script than Latin counts only inside a run of them
//! (`Î±Î²` → `αβ`), so `5×…` or `×` before a no-break space never becomes Hebrew.

/// The Windows-1252 byte a character was decoded from, if any. Latin-1 readings (C1
/// controls U+0080–U+009F) map to their own byte too.
fn cp1252_byte(c: char) -> Option<u8> {
    let b = match c {
        '\u{80}'..='\u{ff}' => c as u32 as u8,
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        _ => return None,
    };
    Some(b)
}

/// Number of continuation bytes a UTF-8 lead byte announces (only leads that can start a
/// valid multi-byte sequence).
fn continuation_len(lead: u8) -> Option<usize> {
    match lead {
        0xC2..=0xDF => Some(1),
        0xE0..=0xEF => Some(2),
        0xF0..=0xF4 => Some(3),
        _ => None,
    }
}

/// One damaged sequence: where it starts (1-based line), what was written, what was meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub line: usize,
    pub damaged: String,
    pub meant: char,
}

/// What [`scan`] found.
#[derive(Debug)]
pub(crate) struct Scan {
    /// The repaired text: only built when repairing, and when there is damage.
    pub repaired: Option<String>,
    /// The first [`MAX_FOUND`] damaged sequences, in order.
    pub found: Vec<Found>,
    /// The first [`MAX_LINES`] lines with damage, in order.
    pub lines: Vec<usize>,
    /// Lines with damage, all of them.
    pub damaged_lines: usize,
}

/// Sequences kept to report (all are repaired).
pub(crate) const MAX_FOUND: usize = 1000;
/// Damaged lines listed by number.
pub(crate) const MAX_LINES: usize = 100;

/// Scans `text` once, in linear time and without copying it unless it repairs it.
pub(crate) fn scan(text: &str, repair: bool) -> Scan {
    let bytes = text.as_bytes();
    let mut scan = Scan {
        repaired: None,
        found: Vec::new(),
        lines: Vec::new(),
        damaged_lines: 0,
    };
    // Every damaged sequence starts with a character from U+00C2 to U+00F4 (the Latin-1
    // reading of a UTF-8 lead byte), whose UTF-8 starts with byte C3: text without that
    // byte (all ASCII text, most other text) has nothing to find.
    if !bytes.contains(&0xC3) {
        return scan;
    }
    let mut out = repair.then(|| String::with_capacity(text.len()));
    // `out` holds the repaired `text[..copied]`.
    let mut copied = 0;
    let mut line = 1;
    let mut i = 0;
    let mut last_line = 0;
    // End of the last damaged sequence that gave a letter of another script than Latin.
    let mut foreign_until = usize::MAX;
    while i < bytes.len() {
        if bytes[i] != 0xC3 {
            // No damaged sequence starts anywhere else (see above): on to the next C3
            // byte, which always starts a character, counting the lines passed.
            let next = bytes[i..]
                .iter()
                .position(|&b| b == 0xC3)
                .map_or(bytes.len(), |p| i + p);
            line += bytes[i..next].iter().filter(|&&b| b == b'\n').count();
            i = next;
            continue;
        }
        let seq = sequence_at(text, i).filter(|&(meant, len)| {
            // A letter of another script (Hebrew from `×…`, `×` + no-break space) only
            // inside a run of them: real mojibake of Greek or Hebrew damages whole words.
            !is_foreign_letter(meant)
                || foreign_until == i
                || sequence_at(text, i + len).is_some_and(|(next, _)| is_foreign_letter(next))
        });
        let Some((meant, len)) = seq else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        };
        if scan.found.len() < MAX_FOUND {
            scan.found.push(Found {
                line,
                damaged: text[i..i + len].to_string(),
                meant,
            });
        }
        if line != last_line {
            scan.damaged_lines += 1;
            if scan.lines.len() < MAX_LINES {
                scan.lines.push(line);
            }
            last_line = line;
        }
        if is_foreign_letter(meant) {
            foreign_until = i + len;
        }
        if let Some(out) = out.as_mut() {
            out.push_str(&text[copied..i]);
            out.push(meant);
            copied = i + len;
        }
        i += len;
    }
    if let Some(mut out) = out.filter(|_| scan.damaged_lines > 0) {
        out.push_str(&text[copied..]);
        scan.repaired = Some(out);
    }
    scan
}

/// A letter, but not a Latin one.
fn is_foreign_letter(c: char) -> bool {
    let latin = matches!(c,
        'A'..='Z' | 'a'..='z' | '\u{aa}' | '\u{ba}' | '\u{c0}'..='\u{2af}'
        | '\u{1e00}'..='\u{1eff}' | '\u{2c60}'..='\u{2c7f}' | '\u{a720}'..='\u{a7ff}'
        | '\u{ab30}'..='\u{ab6f}' | '\u{fb00}'..='\u{fb06}');
    c.is_alphabetic() && !latin
}

/// The character a damaged sequence starting at byte `i` encodes, and its length in bytes.
fn sequence_at(text: &str, i: usize) -> Option<(char, usize)> {
    let mut chars = text.get(i..)?.chars();
    let first = chars.next()?;
    let lead = cp1252_byte(first)?;
    let more = continuation_len(lead)?;
    let mut bytes = [lead, 0, 0, 0];
    let mut len = first.len_utf8();
    for slot in bytes.iter_mut().skip(1).take(more) {
        let c = chars.next()?;
        let b = cp1252_byte(c)?;
        if !(0x80..=0xBF).contains(&b) {
            return None;
        }
        *slot = b;
        len += c.len_utf8();
    }
    let s = std::str::from_utf8(&bytes[..=more]).ok()?;
    let meant = s.chars().next()?;
    Some((meant, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_patterns_are_found_and_repaired() {
        let text =
            "litigation â€” all\ndon’t and donâ€™t, cafÃ©, â€œquotedâ€\u{9d}, naÃ¯ve, 1Â\u{a0}km";
        let Scan {
            repaired: fixed,
            found,
            ..
        } = scan(text, true);
        assert_eq!(
            fixed.unwrap(),
            "litigation — all\ndon’t and don’t, café, “quoted”, naïve, 1\u{a0}km"
        );
        assert_eq!(found[0].line, 1);
        assert_eq!(found[0].damaged, "â€”");
        assert_eq!(found[0].meant, '—');
        assert!(found[1..].iter().all(|f| f.line == 2));
        assert_eq!(found.len(), 7);
    }

    #[test]
    fn genuine_text_is_left_alone() {
        for text in [
            "café naïve Ærø — “quotes” ’ … €5 ©2020 Ça va? À bientôt. Öl, Ñandú",
            "plain ascii",
            "日本語 😀 Ελληνικά",
            "Â",
            "Ã",
        ] {
            let Scan {
                repaired: fixed,
                found,
                ..
            } = scan(text, true);
            assert!(found.is_empty(), "{text}: {found:?}");
            assert!(fixed.is_none());
        }
    }

    #[test]
    fn symbols_before_ellipses_and_no_break_spaces_are_not_hebrew() {
        // `×…` is D7 85 and `×` + NBSP is D7 A0: valid UTF-8 for Hebrew points and letters.
        for text in [
            "5×… and so on",
            "3 ×\u{a0}4",
            "wait…",
            "a\u{a0}b\u{a0}c",
            "中文的文本，日本語のテキスト、한국어 텍스트",
            "×… ×\u{a0}",
        ] {
            let Scan {
                repaired: fixed,
                found,
                ..
            } = scan(text, true);
            assert!(found.is_empty(), "{text}: {found:?}");
            assert!(fixed.is_none());
        }
    }

    #[test]
    fn runs_of_another_script_are_still_repaired() {
        // "αβγ" and "日本" read as Windows-1252.
        let Scan {
            repaired: fixed,
            found,
            ..
        } = scan("Î±Î²Î³ and æ—¥æœ¬", true);
        assert_eq!(fixed.unwrap(), "αβγ and 日本");
        assert_eq!(found.len(), 5);
        // A lone one is left alone.
        let fixed = scan("x Î± y", true).repaired;
        assert!(fixed.is_none());
    }

    #[test]
    fn lines_are_counted_across_text_without_damage() {
        let text = "日本\n— “x”\nplain\n\ncafé\nÃ©t\u{e9}\n\nâ€” x";
        let found = scan(text, false).found;
        assert_eq!(
            found.iter().map(|f| (f.line, f.meant)).collect::<Vec<_>>(),
            [(6, 'é'), (8, '—')]
        );
    }

    #[test]
    fn latin1_readings_with_c1_controls_are_found() {
        let Scan {
            repaired: fixed,
            found,
            ..
        } = scan("a\u{e2}\u{80}\u{94}b", true);
        assert_eq!(fixed.unwrap(), "a—b");
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn detection_without_repair_builds_nothing() {
        let Scan {
            repaired: fixed,
            found,
            ..
        } = scan("â€™", false);
        assert!(fixed.is_none());
        assert_eq!(found.len(), 1);
    }
}
