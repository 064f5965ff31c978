//! Bounds on the work one post can make the HTML parser and serializer do, on what that
//! costs in memory, and on the size of an item's content.
//!
//! html5ever (inside ammonia) is quadratic in a few shapes no real post has: on every block
//! start tag it walks its stack of open elements looking for a `<p>` to close
//! (`close_p_element_in_button_scope`), so 80,000 nested `<div>`s take seconds; it compares
//! each attribute of a tag with every earlier one; it reopens every formatting element left
//! open at each new block (`<div><b class=1></div>` repeated makes N² elements); it finds a
//! table's place among its siblings for every piece of content misplaced inside the table
//! (foster parenting); and its serializer looks ahead to the end of a text node (or
//! attribute value) for every `&` or no-break space in it. Besides, every element costs
//! about half a kilobyte while parsing, and pulldown-cmark pads every row of a Markdown
//! table to its header's width.
//!
//! [`bound_html`] reads the HTML once, with a small tokenizer and a model of the parser's
//! stack of open elements. HTML within every limit below (every real post) is passed on
//! unchanged, but for an empty comment (a node ammonia removes) after every
//! [`MAX_TEXT_RUN`] bytes of a text run with escaped characters. Other HTML is rewritten,
//! deterministically, keeping all of its text:
//!
//! - at most [`MAX_DEPTH`] open elements: deeper start tags are dropped, with their end tags;
//! - at most [`MAX_ATTRIBUTES`] attributes, and [`MAX_TAG_ESCAPES`] escaped characters in
//!   them, on one tag: a tag with more is dropped;
//! - at most [`MAX_ELEMENTS`] elements and comments in a post: later tags are dropped (and
//!   every comment, which ammonia removes anyway);
//! - at most [`MAX_COLUMNS`] cells in a table row and [`MAX_CELLS`] in a post: the content of
//!   further cells joins the last cell kept, and further tables lose their table tags;
//! - at most [`MAX_MISPLACED`] pieces of content misplaced inside tables: past that, the
//!   table is closed before such content;
//!
//! and every element the model closes gets its explicit end tag, so the parser never has
//! left-over formatting elements to reopen. The model errs on the side of more depth than
//! the parser has (it nests what the parser would close in ways it does not follow), so
//! html5ever's own stack stays within a small multiple of [`MAX_DEPTH`] and each token costs
//! it a bounded number of steps.
//!
//! [`bound_markdown_tables`] keeps Markdown tables within [`MAX_CELLS`] before
//! pulldown-cmark parses them: a table that would take the post past it is shown as text.
//! [`cap_item`] cuts an item's content to `max_item_bytes`.

use std::borrow::Cow;
use std::collections::HashMap;

/// Open elements: Markdown lists nested ten deep with emphasis and links inside make about
/// thirty; a hundred is more than any page needs.
pub(crate) const MAX_DEPTH: usize = 100;
/// Attributes on one tag: an `<img>` with `srcset`, `sizes`, `loading` and a few `data-`
/// has about fifteen.
pub(crate) const MAX_ATTRIBUTES: usize = 64;
/// Elements (and comments) in one post: a 100,000-word post has about 20,000. Parsing costs
/// about 500 bytes each, so this keeps a post's tree under about 50 MB.
pub(crate) const MAX_ELEMENTS: usize = 100_000;
/// Cells in one table row.
pub(crate) const MAX_COLUMNS: usize = 100;
/// Table cells in one post, all tables together (a 1,000-row, 20-column table is 20,000).
pub(crate) const MAX_CELLS: usize = 50_000;
/// Pieces of content (text, tags) misplaced directly inside a table, outside any cell.
pub(crate) const MAX_MISPLACED: usize = 100;
/// Bytes the serializer escapes (`&`, no-break spaces) in one tag's attributes: a link
/// with a long query string has a dozen.
pub(crate) const MAX_TAG_ESCAPES: usize = 256;
/// Bytes of one text node, when it has bytes the serializer escapes (longer ones are split,
/// invisibly).
pub(crate) const MAX_TEXT_RUN: usize = 2048;

/// `html`, or when it passes a limit, a rewritten copy within all of them (module docs).
pub(crate) fn bound_html(html: &str) -> Cow<'_, str> {
    let mut check = Model::new(Mode::Check);
    let fits = check.run(html).is_ok();
    if fits && !check.long_text {
        return Cow::Borrowed(html);
    }
    if fits {
        let mut split = Model::new(Mode::Split);
        if split.run(html).is_ok() {
            return Cow::Owned(split.out);
        }
    }
    let mut model = Model::new(Mode::Rewrite);
    let _ = model.run(html);
    Cow::Owned(model.out)
}

/// The length of the longest prefix of well-formed (serialized) HTML that ends between two
/// top-level nodes and is at most `max` bytes long.
pub(crate) fn top_level_prefix(html: &str, max: usize) -> usize {
    let mut tokens = Tokens::new(html);
    let mut depth = 0usize;
    let mut best = 0;
    while let Some(token) = tokens.next() {
        if tokens.pos > max {
            break;
        }
        if let Token::Tag(tag) = &token {
            if tag.end {
                depth = depth.saturating_sub(1);
            } else if !is_void(&tag.name) {
                depth += 1;
            }
        }
        if depth == 0 {
            best = tokens.pos;
        }
    }
    best
}

// ---------------------------------------------------------------------------------------
// Tokenizer: the HTML tokenizer's view of where tags begin and end, nothing more.

#[derive(Debug)]
enum Token<'a> {
    Text(&'a str),
    Tag(Tag<'a>),
    /// Comments, doctypes, bogus comments, `</>`, a tag cut off by the end of the input.
    Other(&'a str),
}

#[derive(Debug)]
struct Tag<'a> {
    raw: &'a str,
    /// ASCII lower case.
    name: String,
    end: bool,
    attributes: usize,
    /// Bytes the serializer escapes in attribute values (`&`, and the lead byte of a
    /// no-break space), counted in the tag as written: at least as many as it will escape.
    escapes: usize,
}

struct Tokens<'a> {
    s: &'a str,
    pos: usize,
}

/// `&`, and 0xC2 (which starts a no-break space): html5ever's serializer looks for the
/// next `<`, `>` (or `"`) after each of them, to the end of the text or value when there is
/// none, so a long text node with many of them is quadratic to write out.
fn is_escaped(b: u8) -> bool {
    b == b'&' || b == 0xC2
}

fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

impl<'a> Tokens<'a> {
    fn new(s: &'a str) -> Self {
        Tokens { s, pos: 0 }
    }

    /// Position of `needle` at or after `from`, else the end of the input.
    fn find(&self, from: usize, needle: &str) -> Option<usize> {
        self.s.get(from..)?.find(needle).map(|i| from + i)
    }

    fn take(&mut self, end: usize) -> &'a str {
        let start = self.pos;
        self.pos = end.min(self.s.len());
        &self.s[start..self.pos]
    }

    fn next(&mut self) -> Option<Token<'a>> {
        let b = self.s.as_bytes();
        let start = self.pos;
        if start >= b.len() {
            return None;
        }
        if b[start] != b'<' {
            let end = self.find(start, "<").unwrap_or(b.len());
            return Some(Token::Text(self.take(end)));
        }
        let len = b.len();
        Some(match b.get(start + 1) {
            Some(c) if c.is_ascii_alphabetic() => self.tag(false),
            Some(b'/') => match b.get(start + 2) {
                Some(c) if c.is_ascii_alphabetic() => self.tag(true),
                Some(b'>') => Token::Other(self.take(start + 3)),
                None => Token::Text(self.take(len)),
                Some(_) => self.bogus(),
            },
            Some(b'!') if self.s[start..].starts_with("<!--") => self.comment(),
            Some(b'!') | Some(b'?') => self.bogus(),
            _ => {
                let end = self.find(start + 1, "<").unwrap_or(len);
                Token::Text(self.take(end))
            }
        })
    }

    /// A bogus comment (`<!DOCTYPE …>`, `<?xml …>`, `<![CDATA[`, `</ x>`): up to the next `>`.
    fn bogus(&mut self) -> Token<'a> {
        let end = self.find(self.pos, ">").map_or(self.s.len(), |e| e + 1);
        Token::Other(self.take(end))
    }

    /// `<!--` … `-->` (or `--!>`); `<!-->` and `<!--->` are empty comments.
    fn comment(&mut self) -> Token<'a> {
        let body = self.pos + 4;
        let rest = &self.s[body..];
        if rest.starts_with('>') {
            return Token::Other(self.take(body + 1));
        }
        if rest.starts_with("->") {
            return Token::Other(self.take(body + 2));
        }
        let mut from = body;
        while let Some(dashes) = self.find(from, "--") {
            let after = &self.s[dashes + 2..];
            if after.starts_with('>') {
                return Token::Other(self.take(dashes + 3));
            }
            if after.starts_with("!>") {
                return Token::Other(self.take(dashes + 4));
            }
            from = dashes + 1;
        }
        Token::Other(self.take(self.s.len()))
    }

    /// A start or end tag: its name, then attributes as the tokenizer reads them (a quoted
    /// value may hold `>`). Cut off by the end of the input, it is no tag.
    fn tag(&mut self, end: bool) -> Token<'a> {
        let b = self.s.as_bytes();
        let len = b.len();
        let name_start = self.pos + 1 + usize::from(end);
        let mut i = name_start;
        while i < len && !is_space(b[i]) && b[i] != b'/' && b[i] != b'>' {
            i += 1;
        }
        let name = self.s[name_start..i].to_ascii_lowercase();
        let mut attributes = 0;
        let skip_space = |i: &mut usize| {
            while *i < len && is_space(b[*i]) {
                *i += 1;
            }
        };
        loop {
            skip_space(&mut i);
            if i >= len {
                return Token::Other(self.take(len));
            }
            match b[i] {
                b'>' => break,
                b'/' => i += 1,
                _ => {
                    // A name (its first character may be `=`), then maybe `= value`.
                    i += 1;
                    while i < len && !is_space(b[i]) && !matches!(b[i], b'/' | b'>' | b'=') {
                        i += 1;
                    }
                    attributes += 1;
                    skip_space(&mut i);
                    if i < len && b[i] == b'=' {
                        i += 1;
                        skip_space(&mut i);
                        match b.get(i) {
                            None => return Token::Other(self.take(len)),
                            Some(&q) if q == b'"' || q == b'\'' => {
                                match self.s[i + 1..].find(q as char) {
                                    Some(e) => i += e + 2,
                                    None => return Token::Other(self.take(len)),
                                }
                            }
                            Some(b'>') => {}
                            Some(_) => {
                                while i < len && !is_space(b[i]) && b[i] != b'>' {
                                    i += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        let raw = self.take(i + 1);
        Token::Tag(Tag {
            raw,
            name,
            end,
            attributes,
            escapes: raw.bytes().filter(|&b| is_escaped(b)).count(),
        })
    }

    /// The text of a raw-text element (`<style>`, `<textarea>` …) whose start tag was just
    /// read: up to its end tag, which is read next. `<plaintext>` runs to the end.
    fn raw_text(&mut self, name: &str) -> &'a str {
        if name == "plaintext" {
            return self.take(self.s.len());
        }
        let mut from = self.pos;
        while let Some(at) = self.find(from, "</") {
            let after = &self.s.as_bytes()[at + 2..];
            if after.len() >= name.len()
                && after[..name.len()].eq_ignore_ascii_case(name.as_bytes())
                && after
                    .get(name.len())
                    .is_none_or(|&c| is_space(c) || c == b'/' || c == b'>')
            {
                return self.take(at);
            }
            from = at + 2;
        }
        self.take(self.s.len())
    }
}

// ---------------------------------------------------------------------------------------
// Element classes, as html5ever's tree builder knows them.

fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "basefont"
            | "bgsound"
            | "br"
            | "col"
            | "embed"
            | "frame"
            | "hr"
            | "image"
            | "img"
            | "input"
            | "keygen"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

/// Elements the parser reopens after a block that closed them implicitly.
fn is_formatting(name: &str) -> bool {
    matches!(
        name,
        "a" | "b"
            | "big"
            | "code"
            | "em"
            | "font"
            | "i"
            | "nobr"
            | "s"
            | "small"
            | "strike"
            | "strong"
            | "tt"
            | "u"
    )
}

fn is_heading(name: &str) -> bool {
    matches!(name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
}

/// Start tags that close an open `<p>` (in button scope) first.
fn closes_p(name: &str) -> bool {
    is_heading(name)
        || matches!(
            name,
            "address"
                | "article"
                | "aside"
                | "blockquote"
                | "center"
                | "details"
                | "dialog"
                | "dir"
                | "div"
                | "dl"
                | "fieldset"
                | "figcaption"
                | "figure"
                | "footer"
                | "header"
                | "hgroup"
                | "main"
                | "menu"
                | "nav"
                | "ol"
                | "p"
                | "search"
                | "section"
                | "summary"
                | "ul"
                | "pre"
                | "listing"
                | "form"
                | "li"
                | "dd"
                | "dt"
                | "plaintext"
                | "table"
                | "hr"
                | "xmp"
        )
}

/// Where the parser's default scope ends (it includes the foreign integration points).
fn is_scope_boundary(name: &str) -> bool {
    matches!(
        name,
        "applet"
            | "caption"
            | "html"
            | "table"
            | "td"
            | "th"
            | "marquee"
            | "object"
            | "select"
            | "template"
            | "mi"
            | "mo"
            | "mn"
            | "ms"
            | "mtext"
            | "annotation-xml"
            | "foreignobject"
            | "desc"
            | "title"
    )
}

/// The parser's "special" elements.
fn is_special(name: &str) -> bool {
    is_heading(name)
        || matches!(
            name,
            "address"
                | "applet"
                | "area"
                | "article"
                | "aside"
                | "base"
                | "basefont"
                | "bgsound"
                | "blockquote"
                | "body"
                | "br"
                | "button"
                | "caption"
                | "center"
                | "col"
                | "colgroup"
                | "dd"
                | "details"
                | "dir"
                | "div"
                | "dl"
                | "dt"
                | "embed"
                | "fieldset"
                | "figcaption"
                | "figure"
                | "footer"
                | "form"
                | "frame"
                | "frameset"
                | "head"
                | "header"
                | "hgroup"
                | "hr"
                | "html"
                | "iframe"
                | "img"
                | "input"
                | "isindex"
                | "li"
                | "link"
                | "listing"
                | "main"
                | "marquee"
                | "menu"
                | "meta"
                | "nav"
                | "noembed"
                | "noframes"
                | "noscript"
                | "object"
                | "ol"
                | "p"
                | "param"
                | "plaintext"
                | "pre"
                | "script"
                | "section"
                | "select"
                | "source"
                | "style"
                | "summary"
                | "table"
                | "tbody"
                | "td"
                | "template"
                | "textarea"
                | "tfoot"
                | "th"
                | "thead"
                | "title"
                | "tr"
                | "track"
                | "ul"
                | "wbr"
                | "xmp"
        )
}

/// Elements whose content the tokenizer reads as text (scripting on, as in ammonia).
fn is_raw_text(name: &str) -> bool {
    matches!(
        name,
        "script"
            | "style"
            | "textarea"
            | "title"
            | "xmp"
            | "iframe"
            | "noembed"
            | "noframes"
            | "noscript"
            | "plaintext"
    )
}

fn is_table_part(name: &str) -> bool {
    matches!(
        name,
        "table" | "caption" | "colgroup" | "col" | "thead" | "tbody" | "tfoot" | "tr" | "td" | "th"
    )
}

/// The current node makes content outside cells misplaced (foster-parented).
fn is_table_context(name: &str) -> bool {
    matches!(name, "table" | "tbody" | "thead" | "tfoot" | "tr")
}

/// Start tags that belong directly in a table (not foster-parented).
fn fits_table(name: &str) -> bool {
    is_table_part(name) || matches!(name, "script" | "style" | "template" | "form")
}

/// Dropping this tag could join words on either side: a space stands in for it.
fn separates(name: &str) -> bool {
    closes_p(name) || is_table_part(name) || name == "br"
}

// ---------------------------------------------------------------------------------------
// The model of the parser's stack of open elements.

/// A limit was passed (reported while checking, before anything is rewritten).
#[derive(Debug)]
struct Exceeded;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Read only: is any limit passed, is any text run too long?
    Check,
    /// Within every limit: copy, splitting long runs of text.
    Split,
    /// Copy within every limit.
    Rewrite,
}

struct Open {
    name: String,
    /// Cells so far, for a row (or a table, for cells outside any row).
    cells: usize,
}

struct Model {
    mode: Mode,
    out: String,
    stack: Vec<Open>,
    /// Elements the parser may still hold open (or reopen) after the model closed them:
    /// counted while checking, since the rewrite closes every element explicitly.
    leaks: usize,
    /// Start tags dropped, by name, whose end tags are dropped too.
    ghosts: HashMap<String, usize>,
    nodes: usize,
    cells: usize,
    misplaced: usize,
    /// Bytes of text since the last node, and whether any of them is escaped.
    run: usize,
    run_escapes: bool,
    /// Some run of text was split (or, checking, needs to be).
    long_text: bool,
}

impl Model {
    fn new(mode: Mode) -> Self {
        Model {
            mode,
            out: String::new(),
            stack: Vec::new(),
            leaks: 0,
            ghosts: HashMap::new(),
            nodes: 0,
            cells: 0,
            misplaced: 0,
            run: 0,
            run_escapes: false,
            long_text: false,
        }
    }

    fn rewrite(&self) -> bool {
        self.mode == Mode::Rewrite
    }

    fn run(&mut self, html: &str) -> Result<(), Exceeded> {
        if self.mode != Mode::Check {
            self.out.reserve(html.len() + html.len() / 64);
        }
        let mut tokens = Tokens::new(html);
        while let Some(token) = tokens.next() {
            match token {
                Token::Text(t) => self.text(t)?,
                Token::Other(o) => {
                    // Dropped when rewriting: ammonia removes comments anyway.
                    self.nodes += 1;
                    if !self.rewrite() {
                        if self.nodes > MAX_ELEMENTS {
                            return Err(Exceeded);
                        }
                        self.emit(o);
                        self.boundary();
                    }
                }
                Token::Tag(tag) if tag.end => self.end_tag(&tag)?,
                Token::Tag(tag) => {
                    let pushed = self.start_tag(&tag)?;
                    // A raw-text element's content is text, unless the parser may be in
                    // SVG or MathML, where it is markup: reading it as markup is the safe way.
                    if pushed && is_raw_text(&tag.name) && !self.in_foreign() {
                        let raw = tokens.raw_text(&tag.name);
                        self.emit(raw);
                    }
                }
            }
        }
        Ok(())
    }

    fn emit(&mut self, s: &str) {
        if self.mode != Mode::Check {
            self.out.push_str(s);
        }
    }

    /// A node was written: the text after it is a new text node.
    fn boundary(&mut self) {
        self.run = 0;
        self.run_escapes = false;
    }

    /// Writes text, with an empty comment (a node, which ammonia then removes) every
    /// [`MAX_TEXT_RUN`] bytes of a run that has escaped bytes, so the serializer writes
    /// short text nodes. Splits fall where no character reference can be cut: before a
    /// character that is neither a letter, a digit, `#` nor `;`.
    fn emit_text(&mut self, t: &str) {
        self.run_escapes |= t.bytes().any(is_escaped);
        let mut t = t;
        while self.run_escapes && self.run + t.len() > MAX_TEXT_RUN {
            self.long_text = true;
            let mut want = MAX_TEXT_RUN.saturating_sub(self.run);
            while !t.is_char_boundary(want) {
                want += 1;
            }
            let Some(at) = t[want..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#' || c == ';'))
                .map(|i| want + i)
            else {
                break;
            };
            self.emit(&t[..at]);
            self.emit("<!---->");
            // The rest of this run is taken to have escaped bytes too.
            self.run = 0;
            t = &t[at..];
        }
        self.emit(t);
        self.run += t.len();
    }

    /// While checking, a limit passed ends the check; while rewriting, the caller drops.
    fn limit(&self) -> Result<(), Exceeded> {
        if self.rewrite() {
            Ok(())
        } else {
            Err(Exceeded)
        }
    }

    fn in_foreign(&self) -> bool {
        self.stack
            .iter()
            .any(|o| o.name == "svg" || o.name == "math")
    }

    fn top(&self) -> Option<&str> {
        self.stack.last().map(|o| o.name.as_str())
    }

    /// Index of the nearest open element `is_target` accepts, searching down from the top
    /// and giving up at one `stop` accepts.
    fn find(&self, is_target: impl Fn(&str) -> bool, stop: impl Fn(&str) -> bool) -> Option<usize> {
        for (i, o) in self.stack.iter().enumerate().rev() {
            if is_target(&o.name) {
                return Some(i);
            }
            if stop(&o.name) {
                return None;
            }
        }
        None
    }

    /// Pops the open elements from the top down to `index` (included), as the parser does
    /// for an implied end: formatting elements above it are ones the parser would reopen.
    fn close_implied(&mut self, index: usize) {
        let formatting = self.stack[index + 1..]
            .iter()
            .filter(|o| is_formatting(&o.name))
            .count();
        self.leaks += formatting;
        self.pop_to(index);
    }

    /// Pops down to `index` (included), writing each end tag when rewriting.
    fn pop_to(&mut self, index: usize) {
        while self.stack.len() > index {
            let Some(open) = self.stack.pop() else { break };
            if self.rewrite() {
                self.out.push_str("</");
                self.out.push_str(&open.name);
                self.out.push('>');
                self.boundary();
            }
        }
    }

    fn ghost(&mut self, name: &str) {
        match self.ghosts.get_mut(name) {
            Some(count) => *count += 1,
            None => {
                self.ghosts.insert(name.to_string(), 1);
            }
        }
    }

    fn take_ghost(&mut self, name: &str) -> bool {
        match self.ghosts.get_mut(name) {
            Some(count) if *count > 0 => {
                *count -= 1;
                true
            }
            _ => false,
        }
    }

    /// Drops a start tag (its end tag too, if it has one); keeps words apart.
    fn drop_start(&mut self, name: &str) {
        if !is_void(name) {
            self.ghost(name);
        }
        if separates(name) {
            self.separate();
        }
    }

    /// A space where a dropped tag kept words apart (one is enough).
    fn separate(&mut self) {
        if !self.out.ends_with(|c: char| c.is_ascii_whitespace()) {
            self.emit_text(" ");
        }
    }

    /// Content misplaced inside a table: the parser moves it before the table, at a cost
    /// that grows with the table's siblings. Past the limit the table is closed first.
    fn misplaced(&mut self) -> Result<(), Exceeded> {
        if !self.top().is_some_and(is_table_context) {
            return Ok(());
        }
        self.misplaced += 1;
        if self.misplaced > MAX_MISPLACED {
            self.limit()?;
            if let Some(table) = self.find(|n| n == "table", |_| false) {
                self.pop_to(table);
            }
        }
        Ok(())
    }

    fn text(&mut self, t: &str) -> Result<(), Exceeded> {
        if !t.bytes().all(is_space) {
            self.misplaced()?;
        }
        self.emit_text(t);
        Ok(())
    }

    /// Whether the cell of the row (or table) at `index` is the last one kept.
    fn cells_full(&self, row: Option<usize>) -> bool {
        self.cells >= MAX_CELLS || row.is_some_and(|r| self.stack[r].cells >= MAX_COLUMNS)
    }

    /// The row a cell goes into: the nearest open `tr`, else the table (an implied row).
    fn row(&self) -> Option<usize> {
        self.find(|n| matches!(n, "tr" | "table"), |_| false)
    }

    /// Opens an element the parser adds on its own (a table's body, a cell's row); written
    /// out when rewriting, where every element is explicit.
    fn push_implied(&mut self, name: &str) -> Result<(), Exceeded> {
        let depth = self.stack.len() + if self.rewrite() { 0 } else { self.leaks };
        if depth >= MAX_DEPTH {
            // The tag that needs it is dropped next, for the same reason.
            return self.limit();
        }
        self.stack.push(Open {
            name: name.to_string(),
            cells: 0,
        });
        if self.rewrite() {
            self.out.push('<');
            self.out.push_str(name);
            self.out.push('>');
            self.boundary();
        }
        Ok(())
    }

    /// Returns whether the element was pushed.
    fn start_tag(&mut self, tag: &Tag<'_>) -> Result<bool, Exceeded> {
        let name = tag.name.as_str();
        if matches!(name, "html" | "body" | "head") {
            // Merged into the root by the parser: no element of its own.
            self.emit(tag.raw);
            return Ok(false);
        }
        let tables_full = self.cells >= MAX_CELLS && is_table_part(name);
        let heavy = tag.attributes > MAX_ATTRIBUTES || tag.escapes > MAX_TAG_ESCAPES;
        if heavy || self.nodes >= MAX_ELEMENTS || tables_full {
            self.limit()?;
            self.drop_start(name);
            return Ok(false);
        }
        if !fits_table(name) {
            self.misplaced()?;
        }

        // Implied ends, as the parser makes them.
        if matches!(name, "td" | "th") {
            let cell = self.find(
                |n| matches!(n, "td" | "th"),
                |n| matches!(n, "tr" | "table" | "tbody" | "thead" | "tfoot"),
            );
            let row = self.row();
            if self.cells_full(row) {
                self.limit()?;
                // Its content joins the last cell kept (left open for it).
                self.drop_start(name);
                return Ok(false);
            }
            if let Some(cell) = cell {
                self.pop_to(cell);
            }
            // A cell directly in a table is in a row of a body the parser adds.
            if self.top() == Some("table") {
                self.push_implied("tbody")?;
            }
            if matches!(self.top(), Some("tbody" | "thead" | "tfoot")) {
                self.push_implied("tr")?;
            }
        } else if name == "tr" {
            if let Some(row) = self.find(
                |n| n == "tr",
                |n| matches!(n, "table" | "tbody" | "thead" | "tfoot"),
            ) {
                self.pop_to(row);
            }
            if self.top() == Some("table") {
                self.push_implied("tbody")?;
            }
        } else if matches!(name, "tbody" | "thead" | "tfoot") {
            if let Some(body) = self.find(
                |n| matches!(n, "tbody" | "thead" | "tfoot"),
                |n| n == "table",
            ) {
                self.pop_to(body);
            }
        } else if name == "table" && self.top().is_some_and(is_table_context) {
            // A table directly in a table ends it.
            if let Some(table) = self.find(|n| n == "table", |_| false) {
                self.pop_to(table);
            }
        } else if matches!(name, "li" | "dd" | "dt") {
            let list = name == "li";
            let item = self.find(
                |n| {
                    if list {
                        n == "li"
                    } else {
                        matches!(n, "dd" | "dt")
                    }
                },
                |n| is_special(n) && !matches!(n, "address" | "div" | "p"),
            );
            if let Some(item) = item {
                self.close_implied(item);
            }
        } else if name == "option" || name == "optgroup" {
            if self.top() == Some("option") {
                self.pop_to(self.stack.len() - 1);
            }
            if name == "optgroup" && self.top() == Some("optgroup") {
                self.pop_to(self.stack.len() - 1);
            }
        } else if name == "a" {
            // A link inside a link ends the first (when only formatting stands between).
            let open = self.find(|n| n == "a", |n| !is_formatting(n));
            if let Some(open) = open {
                self.close_implied(open);
            }
        }
        if closes_p(name) {
            let p = self.find(|n| n == "p", |n| is_scope_boundary(n) || n == "button");
            if let Some(p) = p {
                self.close_implied(p);
            }
        }
        if is_heading(name) && self.top().is_some_and(is_heading) {
            self.pop_to(self.stack.len() - 1);
        }

        if is_void(name) {
            self.nodes += 1;
            self.emit(tag.raw);
            self.boundary();
            return Ok(false);
        }
        let depth = self.stack.len() + if self.rewrite() { 0 } else { self.leaks };
        if depth >= MAX_DEPTH {
            self.limit()?;
            self.drop_start(name);
            return Ok(false);
        }
        self.nodes += 1;
        if matches!(name, "td" | "th") {
            self.cells += 1;
            if let Some(row) = self.row() {
                self.stack[row].cells += 1;
            }
        }
        self.stack.push(Open {
            name: tag.name.clone(),
            cells: 0,
        });
        self.emit(tag.raw);
        self.boundary();
        Ok(true)
    }

    fn end_tag(&mut self, tag: &Tag<'_>) -> Result<(), Exceeded> {
        let name = tag.name.as_str();
        if self.rewrite() && self.take_ghost(name) {
            if separates(name) {
                self.separate();
            }
            return Ok(());
        }
        let open = match name {
            "html" | "body" | "head" | "br" => None,
            _ => self.find(|n| n == name, |_| false),
        };
        let Some(index) = open else {
            // Stray: the parser ignores it, or closes less than the model holds open, or
            // (`</br>`, `</p>`) makes an element of it.
            if matches!(name, "br" | "p") {
                if self.nodes >= MAX_ELEMENTS {
                    self.limit()?;
                    self.separate();
                    return Ok(());
                }
                self.nodes += 1;
            }
            self.emit(tag.raw);
            return Ok(());
        };
        if self.rewrite() && matches!(name, "td" | "th") {
            // The last cell kept stays open for the content of the cells dropped after it.
            let row = self.row();
            if self.cells_full(row) && index + 1 == self.stack.len() {
                return Ok(());
            }
        }
        if self.rewrite() && name == "tr" && self.cells >= MAX_CELLS {
            return Ok(());
        }
        if !self.rewrite() {
            self.count_leaks(name, index);
        }
        self.pop_to(index + 1);
        self.stack.pop();
        self.emit(tag.raw);
        self.boundary();
        Ok(())
    }

    /// Elements the parser may keep open, or reopen, when `</name>` closes the open element
    /// at `index` and everything above it.
    fn count_leaks(&mut self, name: &str, index: usize) {
        let above = &self.stack[index + 1..];
        if above.is_empty() {
            return;
        }
        let boundary: fn(&str) -> bool = if is_table_part(name) {
            |n| matches!(n, "html" | "table" | "template")
        } else if name == "p" {
            |n| is_scope_boundary(n) || n == "button"
        } else if name == "li" {
            |n| is_scope_boundary(n) || n == "ol" || n == "ul"
        } else if is_formatting(name) || is_special(name) {
            is_scope_boundary
        } else {
            is_special
        };
        if above.iter().any(|o| boundary(&o.name)) {
            // The parser may ignore this end tag altogether.
            self.leaks += above.len() + 1;
        } else if is_formatting(name) {
            // Misnested formatting: the adoption agency moves and reopens elements.
            self.leaks += above.len();
        } else {
            self.leaks += above.iter().filter(|o| is_formatting(&o.name)).count();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Markdown, before pulldown-cmark.

/// Bytes pulldown-cmark reads as possible syntax (`*`, `[`, `` ` ``, `<`, line ends …) in
/// the Markdown of one post: each costs it one or two nodes of about 50 bytes, held until
/// the post is rendered. A 4 MiB post of ordinary prose has about 300,000; 4 MiB of `*a `
/// has 1.4 million, which would take 200 MB.
pub(crate) const MAX_MARKDOWN_MARKS: usize = 600_000;

fn is_mark(b: u8, typographer: bool) -> bool {
    matches!(
        b,
        b'\n' | b'\r' | b'*' | b'_' | b'&' | b'\\' | b'[' | b']' | b'<' | b'!' | b'`' | b'|' | b'~'
    ) || (typographer && matches!(b, b'.' | b'-' | b'"' | b'\''))
}

/// Where the Markdown rendered of a post ends, when [`MAX_MARKDOWN_MARKS`] cuts it short: at
/// the last blank line (else line end, else space) in the second half of what fits.
pub(crate) fn markdown_cut(markdown: &str, typographer: bool) -> Option<usize> {
    let past = markdown
        .bytes()
        .enumerate()
        .filter(|&(_, b)| is_mark(b, typographer))
        .nth(MAX_MARKDOWN_MARKS)?
        .0;
    let head = &markdown[..past];
    let half = past / 2;
    let cut = [head.rfind("\n\n"), head.rfind('\n'), head.rfind(' ')]
        .into_iter()
        .flatten()
        .find(|&at| at >= half)
        .unwrap_or(past);
    Some(cut)
}

/// The part of a post's Markdown that is rendered (all of it, unless [`markdown_cut`]).
pub(crate) fn markdown_prefix(markdown: &str, typographer: bool) -> &str {
    match markdown_cut(markdown, typographer) {
        Some(cut) => &markdown[..cut],
        None => markdown,
    }
}

// Tables.

/// A delimiter row (`| --- | :-: |`) after any container markers (`>`, indentation): its
/// number of columns.
fn delimiter_columns(line: &str) -> Option<usize> {
    let core = line.trim_start_matches(['>', ' ', '\t']).trim_end();
    if !core.contains('|') || !core.contains('-') {
        return None;
    }
    if !core
        .bytes()
        .all(|b| matches!(b, b'|' | b'-' | b':' | b' ' | b'\t'))
    {
        return None;
    }
    let inner = core.strip_prefix('|').unwrap_or(core);
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    Some(inner.split('|').count())
}

fn is_blank(line: &str) -> bool {
    line.trim_start_matches(|c: char| c == '>' || c.is_whitespace())
        .is_empty()
}

/// pulldown-cmark pads every row of a table to its header's width (up to 2^18 cells per
/// table), before rendering anything: a 512-column header over 512 one-letter rows is
/// 262,144 cells from 3 KB, and a post can hold a thousand such tables. This counts each
/// table's width times its lines (to the next blank line, which is at least its rows) and
/// shows as text any table that would take the post past [`MAX_CELLS`], by escaping the
/// first character of its delimiter row (`\|---|` reads `|---|`). Code blocks are counted
/// too: only a post far past the limit can see a `\` appear in one.
pub(crate) fn bound_markdown_tables(markdown: &str) -> Cow<'_, str> {
    if !markdown.contains('|') {
        return Cow::Borrowed(markdown);
    }
    let lines: Vec<(usize, &str)> = {
        let mut at = 0;
        markdown
            .split_inclusive('\n')
            .map(|l| {
                let start = at;
                at += l.len();
                (start, l)
            })
            .collect()
    };
    let mut budget = MAX_CELLS;
    let mut escapes = Vec::new();
    let mut i = 1;
    while i < lines.len() {
        let Some(columns) = delimiter_columns(lines[i].1) else {
            i += 1;
            continue;
        };
        let rows = lines[i + 1..]
            .iter()
            .take_while(|(_, l)| !is_blank(l))
            .count();
        let cells = columns.saturating_mul(rows + 2);
        if cells <= budget {
            budget -= cells;
        } else {
            let (start, line) = lines[i];
            let indent = line.len() - line.trim_start_matches(['>', ' ', '\t']).len();
            escapes.push(start + indent);
        }
        // The rows are this table's: none of them starts another.
        i += rows + 1;
    }
    if escapes.is_empty() {
        return Cow::Borrowed(markdown);
    }
    let mut out = String::with_capacity(markdown.len() + escapes.len());
    let mut from = 0;
    for at in escapes {
        out.push_str(&markdown[from..at]);
        out.push('\\');
        from = at;
    }
    out.push_str(&markdown[from..]);
    Cow::Owned(out)
}

// ---------------------------------------------------------------------------------------
// An item's content in a feed.

/// The smallest `max_item_bytes`: room for the note and a paragraph of text.
pub const MIN_ITEM_BYTES: usize = 4096;

/// An excerpt is worth adding after the elements kept when this much room is left.
const MIN_EXCERPT_BYTES: usize = 1024;

/// A post's sanitized HTML as an item carries it: unchanged within `max_bytes` unless
/// `cut` (only part of the post was rendered); else the leading top-level elements that
/// fit, a plain-text excerpt of what follows when there is room for one (an element too
/// long to keep whole), and a paragraph linking to the post's page. Always within
/// `max_bytes` (given at least [`MIN_ITEM_BYTES`] and a permalink of reasonable length),
/// well-formed and deterministic.
pub(crate) fn cap_item<'a>(
    html: &'a str,
    max_bytes: usize,
    permalink: &str,
    cut: bool,
) -> Cow<'a, str> {
    if html.len() <= max_bytes && !cut {
        return Cow::Borrowed(html);
    }
    let note = format!(
        "<p>This post is too long for the feed; <a href=\"{}\" rel=\"noopener noreferrer\">read \
         it on the site</a>.</p>\n",
        html_escape::encode_double_quoted_attribute(permalink)
    );
    let room = max_bytes.saturating_sub(note.len());
    let keep = if html.len() <= room {
        html.len()
    } else {
        top_level_prefix(html, room)
    };
    let mut out = String::with_capacity(max_bytes);
    out.push_str(&html[..keep]);
    let left = room - keep;
    if keep < html.len() && left >= MIN_EXCERPT_BYTES {
        let plain = super::text::one_line(&super::text::decode_entities(&super::summary::plain(
            &html[keep..],
        )));
        let excerpt = excerpt(&plain, left - "<p>…</p>\n".len());
        if !excerpt.is_empty() {
            out.push_str("<p>");
            out.push_str(&excerpt);
            out.push_str("</p>\n");
        }
    }
    out.push_str(&note);
    Cow::Owned(out)
}

/// The longest start of `plain` that fits in `room` bytes once escaped, cut at a word (with
/// `…` after it, which `room` leaves out), escaped.
fn excerpt(plain: &str, room: usize) -> String {
    let mut used = 0;
    let mut last_space = None;
    let mut end = None;
    for (i, c) in plain.char_indices() {
        let width = match c {
            '&' => "&amp;".len(),
            '<' | '>' => "&lt;".len(),
            c => c.len_utf8(),
        };
        if used + width > room {
            end = Some(i);
            break;
        }
        used += width;
        if c.is_whitespace() {
            last_space = Some(i);
        }
    }
    let text = match end {
        None => plain.to_string(),
        Some(end) => {
            let cut = last_space.filter(|&s| s > 0).unwrap_or(end);
            format!("{}…", plain[..cut].trim_end())
        }
    };
    html_escape::encode_text(&text).into_owned()
}
