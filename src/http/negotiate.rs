//! Content-coding negotiation (RFC 9110 §12.5.3): which precomputed [`Encoding`] of a
//! resource to send for the request's `Accept-Encoding` field(s).
//!
//! Semantics:
//! - No `Accept-Encoding` field at all, or only empty ones: identity.
//! - Each element is `coding [; q=qvalue]`; tokens are case-insensitive, whitespace around
//!   elements and parameters is tolerated, `x-gzip` means `gzip`. A missing `q` is 1.
//!   `q=0` means "not acceptable".
//! - `*` gives its q to every coding not listed explicitly (identity included).
//! - identity is acceptable unless `identity;q=0`, or `*;q=0` with identity not listed;
//!   when not listed at all it ranks below every coding the client did list.
//! - Among the codings the resource actually has (brotli/gzip may be absent for tiny
//!   bodies), the highest q wins; ties prefer `br` > `gzip` > identity.
//! - If nothing acceptable exists (e.g. `identity;q=0` and no usable compressed variant),
//!   identity is sent anyway rather than a 406: RFC 9110 allows either, and a feed reader
//!   is better served by bytes it can probably decode than by an error.
//! - Lenient parsing: an element with an invalid q-value (not a number in 0..=1) is
//!   ignored as if it were not there; unknown codings and parameters are ignored. Never
//!   panics on any input.
//!
//! Pure functions; no allocation.

use crate::snapshot::Encoding;

/// q-values in thousandths (0..=1000), as RFC 9110 §12.4.2 allows at most 3 decimals.
type Q = u16;

/// What the request said about each coding Herald can produce.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Preferences {
    br: Option<Q>,
    gzip: Option<Q>,
    identity: Option<Q>,
    star: Option<Q>,
}

impl Preferences {
    fn effective(&self, encoding: Encoding) -> Q {
        let explicit = match encoding {
            Encoding::Brotli => self.br,
            Encoding::Gzip => self.gzip,
            Encoding::Identity => self.identity,
        };
        match (explicit, self.star, encoding) {
            (Some(q), _, _) => q,
            (None, Some(q), _) => q,
            // Implicitly acceptable, but any coding the client did list is preferred.
            (None, None, Encoding::Identity) => 1,
            (None, None, _) => 0,
        }
    }
}

/// Chooses the encoding to send. `fields` are the raw values of every `Accept-Encoding`
/// field in the request (none when the header is absent); `available` says whether the
/// resource has a representation in a given encoding (identity is always assumed).
pub fn choose<'a>(
    fields: impl IntoIterator<Item = &'a [u8]>,
    available: impl Fn(Encoding) -> bool,
) -> Encoding {
    let prefs = parse(fields);
    let mut best = Encoding::Identity;
    let mut best_q = prefs.effective(Encoding::Identity);
    // Visit in reverse preference order so a tie keeps the more preferred coding.
    for encoding in [Encoding::Gzip, Encoding::Brotli] {
        if !available(encoding) {
            continue;
        }
        let q = prefs.effective(encoding);
        if q > 0 && q >= best_q {
            best = encoding;
            best_q = q;
        }
    }
    // When identity has q=0 and nothing else is acceptable, `best` stays identity: the
    // documented fallback instead of 406.
    best
}

fn parse<'a>(fields: impl IntoIterator<Item = &'a [u8]>) -> Preferences {
    let mut prefs = Preferences::default();
    for field in fields {
        for element in field.split(|&b| b == b',') {
            let mut parts = element.split(|&b| b == b';');
            let coding = trim(parts.next().unwrap_or_default());
            if coding.is_empty() {
                continue;
            }
            let mut q: Option<Q> = Some(1000);
            for param in parts {
                let param = trim(param);
                let Some(eq) = param.iter().position(|&b| b == b'=') else {
                    continue;
                };
                let (name, value) = (trim(&param[..eq]), trim(&param[eq + 1..]));
                if name.eq_ignore_ascii_case(b"q") {
                    q = parse_q(value);
                }
            }
            let Some(q) = q else {
                continue; // invalid q-value: ignore the element
            };
            let slot = if coding.eq_ignore_ascii_case(b"br") {
                &mut prefs.br
            } else if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip")
            {
                &mut prefs.gzip
            } else if coding.eq_ignore_ascii_case(b"identity") {
                &mut prefs.identity
            } else if coding == b"*" {
                &mut prefs.star
            } else {
                continue;
            };
            // A coding listed twice is not meaningful; keep the most favourable reading.
            *slot = Some(slot.map_or(q, |old| old.max(q)));
        }
    }
    prefs
}

/// Parses a qvalue leniently: any decimal number in 0..=1 with up to 3 decimals counts
/// (extra decimals are truncated); anything else is `None`.
fn parse_q(value: &[u8]) -> Option<Q> {
    let value = value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(value);
    let (int, frac) = match value.iter().position(|&b| b == b'.') {
        Some(dot) => (&value[..dot], &value[dot + 1..]),
        None => (value, &[][..]),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.iter().chain(frac).all(u8::is_ascii_digit) || int.len() > 3 {
        return None;
    }
    let int_value: u32 = int.iter().fold(0, |acc, &d| acc * 10 + u32::from(d - b'0'));
    let mut thousandths: u32 = 0;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |&d| u32::from(d - b'0'));
    }
    let q = int_value * 1000 + thousandths;
    let truncated_rest_nonzero = frac.iter().skip(3).any(|&d| d != b'0');
    if q > 1000 || (q == 1000 && truncated_rest_nonzero) {
        return None;
    }
    Some(q as Q)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(_: Encoding) -> bool {
        true
    }

    fn pick(header: &str) -> Encoding {
        choose([header.as_bytes()], all)
    }

    #[test]
    fn absent_or_empty_header_means_identity() {
        assert_eq!(choose(std::iter::empty(), all), Encoding::Identity);
        assert_eq!(pick(""), Encoding::Identity);
        assert_eq!(pick(" , ,"), Encoding::Identity);
    }

    #[test]
    fn single_codings() {
        assert_eq!(pick("gzip"), Encoding::Gzip);
        assert_eq!(pick("x-gzip"), Encoding::Gzip);
        assert_eq!(pick("br"), Encoding::Brotli);
        assert_eq!(pick("identity"), Encoding::Identity);
        assert_eq!(pick("deflate"), Encoding::Identity);
        assert_eq!(pick("zstd, compress"), Encoding::Identity);
    }

    #[test]
    fn ties_prefer_br_then_gzip_then_identity() {
        assert_eq!(pick("gzip, br"), Encoding::Brotli);
        assert_eq!(pick("gzip, deflate, br, zstd"), Encoding::Brotli);
        assert_eq!(pick("identity, gzip"), Encoding::Gzip);
        assert_eq!(pick("*"), Encoding::Brotli);
    }

    #[test]
    fn q_values_are_respected() {
        assert_eq!(pick("br;q=0.5, gzip;q=0.8"), Encoding::Gzip);
        assert_eq!(pick("br;q=0.5, gzip;q=0.5"), Encoding::Brotli);
        assert_eq!(pick("gzip;q=0"), Encoding::Identity);
        assert_eq!(pick("gzip;q=0.000, br;q=0"), Encoding::Identity);
        assert_eq!(pick("gzip;q=0.001"), Encoding::Gzip);
        assert_eq!(pick("gzip;q=0.5, identity;q=0.9"), Encoding::Identity);
        assert_eq!(pick("gzip;q=1.0, br;q=0.999"), Encoding::Gzip);
    }

    #[test]
    fn star_covers_unlisted_codings_only() {
        assert_eq!(pick("gzip;q=0.2, *;q=0.5"), Encoding::Brotli);
        assert_eq!(pick("*;q=0.5, br;q=0"), Encoding::Gzip);
        assert_eq!(pick("*;q=0"), Encoding::Identity); // nothing acceptable: identity anyway
        assert_eq!(pick("*;q=0, gzip"), Encoding::Gzip);
        assert_eq!(pick("*;q=0, identity"), Encoding::Identity);
    }

    #[test]
    fn identity_refused_still_falls_back_to_identity() {
        assert_eq!(pick("identity;q=0"), Encoding::Identity);
        assert_eq!(
            choose([&b"identity;q=0, gzip"[..]], |e| e == Encoding::Identity),
            Encoding::Identity
        );
        assert_eq!(pick("identity;q=0, gzip;q=0.1"), Encoding::Gzip);
    }

    #[test]
    fn only_available_variants_are_chosen() {
        let no_br = |e: Encoding| e != Encoding::Brotli;
        assert_eq!(choose([&b"br, gzip;q=0.5"[..]], no_br), Encoding::Gzip);
        assert_eq!(choose([&b"br"[..]], no_br), Encoding::Identity);
        let identity_only = |e: Encoding| e == Encoding::Identity;
        assert_eq!(
            choose([&b"gzip, br"[..]], identity_only),
            Encoding::Identity
        );
    }

    #[test]
    fn case_whitespace_and_multiple_fields() {
        assert_eq!(pick("  GZIP ;  Q = 0.7 ,  Br ; q=0.6 "), Encoding::Gzip);
        assert_eq!(pick("BR"), Encoding::Brotli);
        assert_eq!(
            choose([&b"gzip;q=0.4"[..], &b"br;q=0.3"[..]], all),
            Encoding::Gzip
        );
        assert_eq!(
            choose([&b"gzip;q=0.4"[..], &b"br"[..]], all),
            Encoding::Brotli
        );
    }

    #[test]
    fn malformed_q_values_ignore_the_element() {
        assert_eq!(pick("gzip;q=abc"), Encoding::Identity);
        assert_eq!(pick("gzip;q=2"), Encoding::Identity);
        assert_eq!(pick("gzip;q=1.5, br;q=-1"), Encoding::Identity);
        assert_eq!(pick("gzip;q="), Encoding::Identity);
        assert_eq!(pick("gzip;q=., br"), Encoding::Brotli);
        assert_eq!(pick("gzip;q=0.5;foo, br;level=3;q=0.4"), Encoding::Gzip);
        assert_eq!(pick("gzip;;;q"), Encoding::Gzip);
        assert_eq!(pick(";q=1, ;;, gzip"), Encoding::Gzip);
        assert_eq!(
            choose([&[0xff, 0xfe, b',', b'b', b'r'][..]], all),
            Encoding::Brotli
        );
    }

    #[test]
    fn q_parser() {
        assert_eq!(parse_q(b"1"), Some(1000));
        assert_eq!(parse_q(b"1."), Some(1000));
        assert_eq!(parse_q(b"1.000"), Some(1000));
        assert_eq!(parse_q(b"1.0001"), None);
        assert_eq!(parse_q(b"0.5"), Some(500));
        assert_eq!(parse_q(b".5"), Some(500));
        assert_eq!(parse_q(b"0.1234"), Some(123));
        assert_eq!(parse_q(b"0"), Some(0));
        assert_eq!(parse_q(b"\"0.3\""), Some(300));
        assert_eq!(parse_q(b""), None);
        assert_eq!(parse_q(b"99999999999999999999"), None);
        assert_eq!(parse_q(b"0.5e1"), None);
    }
}
