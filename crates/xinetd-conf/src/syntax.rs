//! The parse-only layer: bytes → entries of attribute lines, with xinetd's exact
//! entry-finding and error-recovery rules (F-020..F-031, F-040, F-044), and no file-system
//! access. [`parse_document`] is what the fuzz target drives.

use std::sync::Arc;

use pest::Parser;

use crate::diagnostic::{diag, Diagnostic, Severity, XinetdLevel};
use crate::model::Span;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct LineParser;

/// The size of xinetd's read buffer; longer lines are cut by xinetd (see [`Document`]).
pub const XINETD_BUFFER: usize = 8192;

/// An assignment operator (F-030).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `=`
    Set,
    /// `+=`
    Add,
    /// `-=`
    Remove,
}

impl Op {
    /// The operator text.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Set => "=",
            Op::Add => "+=",
            Op::Remove => "-=",
        }
    }
}

/// One `name op values` line inside an entry.
#[derive(Debug, Clone)]
pub struct AttrLine {
    /// The attribute name as written (case preserved).
    pub name: String,
    /// Where the name starts.
    pub span: Span,
    /// The operator.
    pub op: Op,
    /// The values, split on blanks, each with its span.
    pub values: Vec<(String, Span)>,
}

/// What kind of entry a header introduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// `service NAME`.
    Service(String),
    /// `defaults`.
    Defaults,
}

/// How xinetd's skip_entry() ended: at a lone `}` or at end of file.
#[derive(Debug, Clone, Default)]
pub struct Skip {
    /// `service NAME` lines passed over while skipping (entries xinetd silently loses).
    pub swallowed: Vec<(String, Span)>,
    /// `Some(line)` when end of file was reached (xinetd warns `missing } in last service
    /// entry`).
    pub eof_line: Option<u32>,
}

/// How an entry's attribute lines ended.
#[derive(Debug, Clone)]
pub enum EntryEnd {
    /// A lone `}` line.
    Closed,
    /// A line that is not an attribute line; xinetd drops the entry and skips to the next
    /// lone `}` (F-031).
    BadLine {
        /// The syntax error.
        error: Diagnostic,
        /// The skip that followed.
        skip: Skip,
    },
    /// End of file inside the entry (F-028).
    Eof {
        /// Last line number.
        line: u32,
    },
}

/// A `service` or `defaults` block whose `{` was found.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Service or defaults.
    pub kind: EntryKind,
    /// The header line.
    pub header: Span,
    /// The line holding the `{`.
    pub open: Span,
    /// Attribute lines in order.
    pub lines: Vec<AttrLine>,
    /// How it ended.
    pub end: EntryEnd,
}

/// A top-level item of a file.
#[derive(Debug, Clone)]
pub enum Item {
    /// A `service` or `defaults` entry.
    Entry(Entry),
    /// `include PATH` (F-042).
    Include(String, Span),
    /// `includedir DIR` (F-043).
    IncludeDir(String, Span),
    /// A header xinetd rejected (stray line, missing `{`, missing name) and the skip after it.
    Rejected {
        /// The error.
        error: Diagnostic,
        /// A service header that was rejected, if this was one (`service NAME` without `{`).
        service: Option<(String, Span)>,
        /// The skip.
        skip: Skip,
    },
}

/// One parsed file: items in order and line-level notes (long lines, NUL bytes).
#[derive(Debug, Clone)]
pub struct Document {
    /// The file name used in spans.
    pub file: Arc<str>,
    /// Items in file order.
    pub items: Vec<Item>,
    /// Notes about the raw text, reported once per file.
    pub notes: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Blank,
    Open,
    Close,
    Other,
}

/// [`classify_with_grammar`] with a shortcut for the common case: a line whose first
/// non-white-space character is not `#`, `{` or `}` can only be `other_line`.
fn classify(text: &str) -> Kind {
    let first = text.bytes().find(|b| !matches!(b, b' ' | b'\t'..=b'\r'));
    match first {
        Some(b'#' | b'{' | b'}') | None => classify_with_grammar(text),
        Some(_) => {
            debug_assert_eq!(classify_with_grammar(text), Kind::Other, "{text:?}");
            Kind::Other
        }
    }
}

fn classify_with_grammar(text: &str) -> Kind {
    let Ok(mut pairs) = LineParser::parse(Rule::line_kind, text) else {
        return Kind::Other;
    };
    let inner = pairs.next().and_then(|p| p.into_inner().next());
    match inner.map(|p| p.as_rule()) {
        Some(Rule::blank_line) => Kind::Blank,
        Some(Rule::open_line) => Kind::Open,
        Some(Rule::close_line) => Kind::Close,
        _ => Kind::Other,
    }
}

struct RawLine {
    kind: Kind,
    text: String,
    number: u32,
    /// Byte offset of the end of the (NUL-truncated) line in the file.
    end: usize,
}

/// xinetd's Srdline() over one buffer: each line read gets its '\n' replaced by NUL, and
/// get_attr_op() may write NULs further on (see [`name_overrun`]), which can merge the next
/// two physical lines into one read, exactly as in xinetd.
struct Reader {
    buf: Vec<u8>,
    nextb: usize,
    count: u32,
    lines: Vec<RawLine>,
    file: Arc<str>,
    notes: Vec<Diagnostic>,
    /// Positions where we wrote a NUL (not a NUL byte of the file).
    written: Vec<usize>,
}

impl Reader {
    fn span(&self, line: u32, column: usize) -> Span {
        Span {
            file: self.file.clone(),
            line,
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }

    /// Srdline(): the next physical line (up to '\n', which becomes NUL).
    fn srdline(&mut self) -> Option<usize> {
        if self.nextb >= self.buf.len() {
            return None;
        }
        let start = self.nextb;
        let end = match self.buf[start..].iter().position(|&b| b == b'\n') {
            Some(p) => {
                self.buf[start + p] = 0;
                self.nextb = start + p + 1;
                start + p
            }
            None => {
                self.nextb = self.buf.len();
                self.buf.len()
            }
        };
        self.count += 1;
        let number = self.count;
        let raw = &self.buf[start..end];
        let cstr_len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        let span = |column: usize| Span {
            file: self.file.clone(),
            line: number,
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        };
        // xinetd cuts a line starting at offset s at 8192*(floor(s/8192)+2) (measured, see the
        // corpus ORACLE.md); we read it whole and say so (docs/compat.md).
        let cut_at = XINETD_BUFFER * (start / XINETD_BUFFER + 2);
        if end > cut_at {
            self.notes.push(
                diag(
                    &span(0),
                    Severity::Warning,
                    format!(
                        "line is {} bytes long; xinetd 2.3.15.3 cuts it after {} bytes and parses the rest as a new line",
                        end - start,
                        cut_at - start - 1
                    ),
                )
                .hint("xinetd-rs reads the line whole (deliberate difference, docs/compat.md); split long lists with '+=' to stay compatible"),
            );
        }
        if cstr_len < raw.len() && !self.written.contains(&(start + cstr_len)) {
            self.notes.push(
                diag(&span(cstr_len), Severity::Warning, "NUL byte in line")
                    .hint("xinetd (and xinetd-rs) ignore the rest of the line after a NUL byte"),
            );
        }
        if start == 0 && raw.starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.notes.push(
                diag(&span(0), Severity::Warning, "file starts with a UTF-8 byte order mark")
                    .hint("xinetd treats the BOM as part of the first word, so the first line is a stray line; remove the BOM"),
            );
        }
        let text = String::from_utf8_lossy(&raw[..cstr_len]).into_owned();
        self.lines.push(RawLine {
            kind: classify(&text),
            text,
            number,
            end: start + cstr_len,
        });
        Some(self.lines.len() - 1)
    }

    /// xinetd's next_line(): the next line that is neither blank nor a comment.
    fn next_line(&mut self) -> Option<usize> {
        while let Some(i) = self.srdline() {
            if self.lines[i].kind != Kind::Blank {
                return Some(i);
            }
        }
        None
    }

    fn last_line_number(&self) -> u32 {
        self.count
    }

    /// xinetd's skip_entry(): to the next lone `}` or end of file.
    fn skip_entry(&mut self) -> Skip {
        let mut skip = Skip::default();
        loop {
            let Some(i) = self.next_line() else {
                skip.eof_line = Some(self.last_line_number());
                return skip;
            };
            let text = &self.lines[i].text;
            if self.lines[i].kind == Kind::Close {
                return skip;
            }
            let words = split_words(text);
            if words.len() >= 2 && words[0].1.eq_ignore_ascii_case("service") {
                let (col, name) = words[1];
                skip.swallowed
                    .push((name.to_string(), self.span(self.lines[i].number, col)));
            }
        }
    }
}

/// Splits on spaces and tabs (xinetd's str_parse with " \t"), with byte offsets.
fn split_words(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let Ok(pairs) = LineParser::parse(Rule::words, text) else {
        return out;
    };
    for pair in pairs.flatten() {
        if pair.as_rule() == Rule::word {
            out.push((pair.as_span().start(), pair.as_str()));
        }
    }
    out
}

/// Result of parsing one attribute line.
enum AttrParse {
    Ok(AttrLine),
    Err(Diagnostic),
}

/// The structure of an attribute line: byte ranges into the line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// `name <space> op values`.
    Ok {
        name: (usize, usize),
        op: Op,
        values: Vec<(usize, usize)>,
    },
    /// `name=...`: no white space before the operator.
    Glued { name: (usize, usize) },
    /// Only white space after the name (or nothing).
    NothingAfter { name: (usize, usize) },
    /// White space, then something that is not an operator.
    BadOperator { name: (usize, usize) },
}

/// The `attribute` rule of the grammar, as a [`Shape`].
fn shape_with_grammar(text: &str) -> Shape {
    let mut name = (0, 0);
    let mut op = Op::Set;
    let mut values = Vec::new();
    let Ok(pairs) = LineParser::parse(Rule::attribute, text) else {
        // The rule accepts every string; keep a safe answer anyway.
        return Shape::BadOperator { name };
    };
    for pair in pairs.flatten() {
        let sp = pair.as_span();
        match pair.as_rule() {
            Rule::attr_name => name = (sp.start(), sp.end()),
            Rule::operator => {
                op = match pair.as_str() {
                    "+=" => Op::Add,
                    "-=" => Op::Remove,
                    _ => Op::Set,
                }
            }
            Rule::value => values.push((sp.start(), sp.end())),
            Rule::glued_operator => return Shape::Glued { name },
            Rule::nothing_after => return Shape::NothingAfter { name },
            Rule::bad_operator => return Shape::BadOperator { name },
            _ => {}
        }
    }
    Shape::Ok { name, op, values }
}

/// The same as [`shape_with_grammar`], by hand: this runs once per attribute line, where
/// pest's per-rule overhead dominated load time (docs/performance.md). The two are checked
/// against each other on every short string over the significant characters
/// (`attribute_shortcut_agrees_with_the_grammar`).
fn shape(text: &str) -> Shape {
    let b = text.as_bytes();
    let c_space = |c: u8| c == b' ' || (b'\t'..=b'\r').contains(&c);
    let blank = |c: u8| c == b' ' || c == b'\t';
    let mut i = 0;
    while i < b.len() && c_space(b[i]) {
        i += 1;
    }
    let start = i;
    while i < b.len() && !c_space(b[i]) && b[i] != b'=' {
        i += 1;
    }
    let name = (start, i);
    if i == b.len() {
        return Shape::NothingAfter { name };
    }
    if b[i] == b'=' {
        return Shape::Glued { name };
    }
    while i < b.len() && c_space(b[i]) {
        i += 1;
    }
    let op = match (b.get(i), b.get(i + 1)) {
        (None, _) => return Shape::NothingAfter { name },
        (Some(b'+'), Some(b'=')) => Op::Add,
        (Some(b'-'), Some(b'=')) => Op::Remove,
        (Some(b'='), _) => Op::Set,
        _ => return Shape::BadOperator { name },
    };
    i += if op == Op::Set { 1 } else { 2 };
    let mut values = Vec::new();
    while i < b.len() {
        if blank(b[i]) {
            i += 1;
            continue;
        }
        let v = i;
        while i < b.len() && !blank(b[i]) {
            i += 1;
        }
        values.push((v, i));
    }
    Shape::Ok { name, op, values }
}

fn parse_attr_line(reader: &mut Reader, idx: usize) -> AttrParse {
    let line = &reader.lines[idx];
    let number = line.number;
    let text = &line.text;
    let err = |col: usize, msg: String, xtext: String, hint: Option<&str>| {
        let mut d = diag(&reader.span(number, col), Severity::Error, msg).xparse(
            XinetdLevel::Error,
            "get_attr_op",
            xtext,
        );
        if let Some(h) = hint {
            d = d.hint(h);
        }
        AttrParse::Err(d)
    };
    let shape = shape(text);
    // Builds with debug assertions (tests, the fuzzer) check the shortcut against the grammar.
    debug_assert_eq!(shape, shape_with_grammar(text), "{text:?}");
    match shape {
        Shape::Ok { name, op, values } => {
            let values = values
                .into_iter()
                .map(|(a, z)| (text[a..z].to_string(), reader.span(number, a)))
                .collect();
            AttrParse::Ok(AttrLine {
                name: text[name.0..name.1].to_string(),
                span: reader.span(number, name.0),
                op,
                values,
            })
        }
        Shape::Glued { name: (a, z) } => {
            let name = &text[a..z];
            err(
                a,
                format!("attribute '{name}' needs a space before the operator"),
                format!("Attribute {name} needs a space before operator"),
                Some("write `name = value`; xinetd drops the whole entry for this line"),
            )
        }
        Shape::NothingAfter { name: (a, z) } if z == text.len() => {
            let name = text[a..z].to_string();
            name_overrun(reader, idx, name, a)
        }
        Shape::NothingAfter { name: (a, z) } => {
            let name = &text[a..z];
            err(
                a,
                format!("attribute '{name}' has no operator and no value"),
                format!("Nothing after attribute: {name}"),
                Some("xinetd drops the whole entry for this line and skips to the next line holding only '}'"),
            )
        }
        Shape::BadOperator { name: (a, z) } => {
            let name = &text[a..z];
            let hint = if name == "}" || name == "{" {
                "a brace line may hold nothing else (not even a comment); xinetd drops the entry and skips to the next line holding only '}'"
            } else {
                "the operator must be '=', '+=' or '-='; xinetd drops the whole entry and skips to the next line holding only '}'"
            };
            err(
                a,
                format!("bad operator after attribute '{name}'"),
                format!("Bad operator for attribute: {name}"),
                Some(hint),
            )
        }
    }
}

/// xinetd's get_attr_op() scans the attribute name until white space or '=', and the line
/// terminator it stands on is a NUL, which stops neither test: when the name runs to the end
/// of the line, the scan continues into the following lines of the file (so `\tper_source`
/// followed by `}` gives `Bad operator for attribute: per_source`, corpus i04/i16).
fn name_overrun(reader: &mut Reader, idx: usize, name: String, name_col: usize) -> AttrParse {
    let line_end = reader.lines[idx].end;
    let number = reader.lines[idx].number;
    // Unread lines still end in '\n', which is white space; read ones end in NUL, which is not.
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0x0B | 0x0C);
    let span = reader.span(number, name_col);
    let error = |xtext: String, msg: String| {
        AttrParse::Err(
            diag(&span, Severity::Error, msg)
                .hint("the attribute name ends the line, so xinetd keeps reading the next line as if it continued this one; write `name = value`")
                .xparse(XinetdLevel::Error, "get_attr_op", xtext),
        )
    };
    let len = reader.buf.len();
    let mut pos = line_end;
    while pos < len && !is_space(reader.buf[pos]) && reader.buf[pos] != b'=' {
        pos += 1;
    }
    if pos >= len {
        return error(
            format!("Nothing after attribute: {name}"),
            format!("attribute '{name}' has no operator and no value"),
        );
    }
    let glued = reader.buf[pos] == b'=';
    // get_attr_op() terminates the name here, in the buffer: this may erase the '\n' of the
    // next line, merging it with the one after for every later read.
    reader.buf[pos] = 0;
    reader.written.push(pos);
    if glued {
        return error(
            format!("Attribute {name} needs a space before operator"),
            format!("attribute '{name}' has no operator on its line"),
        );
    }
    pos += 1;
    while pos < len && is_space(reader.buf[pos]) {
        pos += 1;
    }
    let b = &reader.buf;
    let op = match (b.get(pos), b.get(pos + 1)) {
        (None | Some(0), _) => {
            return error(
                format!("Nothing after attribute: {name}"),
                format!("attribute '{name}' has no operator and no value"),
            )
        }
        (Some(b'='), _) => Op::Set,
        (Some(b'+'), Some(b'=')) => Op::Add,
        (Some(b'-'), Some(b'=')) => Op::Remove,
        _ => {
            return error(
                format!("Bad operator for attribute: {name}"),
                format!("attribute '{name}' has no operator on its line"),
            )
        }
    };
    // The operator sits on a later, unread line: xinetd takes the values from there up to
    // the next NUL, across line breaks.
    let vstart = pos + if op == Op::Set { 1 } else { 2 };
    let vend = b[vstart.min(len)..]
        .iter()
        .position(|&c| c == 0)
        .map_or(len, |p| vstart + p);
    let text = String::from_utf8_lossy(&b[vstart.min(len)..vend.max(vstart.min(len))]).into_owned();
    let values = text
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .map(|w| (w.to_string(), span.clone()))
        .collect();
    AttrParse::Ok(AttrLine {
        name,
        span,
        op,
        values,
    })
}

/// Parses one file's bytes into entries, without touching the file system.
pub fn parse_document(bytes: &[u8], file: &str) -> Document {
    let file: Arc<str> = Arc::from(file);
    let mut r = Reader {
        buf: bytes.to_vec(),
        nextb: 0,
        count: 0,
        lines: Vec::new(),
        file: file.clone(),
        notes: Vec::new(),
        written: Vec::new(),
    };
    let mut items = Vec::new();
    while let Some(i) = r.next_line() {
        let number = r.lines[i].number;
        let text = r.lines[i].text.clone();
        let words = split_words(&text);
        let Some(&(col0, first)) = words.first() else {
            continue;
        };
        let kw = first.to_ascii_lowercase();
        let head_span = r.span(number, col0);
        let kind = match kw.as_str() {
            "service" | "include" | "includedir" => {
                let Some(&(col1, second)) = words.get(1) else {
                    let error = diag(
                        &head_span,
                        Severity::Error,
                        format!("'{first}' needs a name"),
                    )
                    .hint("xinetd then skips to the next line holding only '}', losing whatever lies between")
                    .xparse(XinetdLevel::Error, "find_next_entry", "service name missing");
                    let skip = r.skip_entry();
                    items.push(Item::Rejected {
                        error,
                        service: None,
                        skip,
                    });
                    continue;
                };
                match kw.as_str() {
                    "include" => {
                        items.push(Item::Include(second.to_string(), r.span(number, col1)));
                        continue;
                    }
                    "includedir" => {
                        items.push(Item::IncludeDir(second.to_string(), r.span(number, col1)));
                        continue;
                    }
                    _ => EntryKind::Service(second.to_string()),
                }
            }
            "defaults" => EntryKind::Defaults,
            _ => {
                let mut error = diag(
                    &head_span,
                    Severity::Error,
                    format!("expected 'service', 'defaults', 'include' or 'includedir', found '{first}'"),
                )
                .xparse(XinetdLevel::Error, "find_next_entry", "missing service keyword");
                error = if first.starts_with('\u{feff}') || first.starts_with('\u{fffd}') {
                    error.hint("the line starts with a byte order mark or invalid UTF-8; xinetd skips to the next line holding only '}'")
                } else {
                    error.hint("xinetd skips from here to the next line holding only '}', which silently swallows the following service (F-025)")
                };
                let skip = r.skip_entry();
                items.push(Item::Rejected {
                    error,
                    service: None,
                    skip,
                });
                continue;
            }
        };
        // The next non-comment line must hold only '{' (F-026).
        let open = r.next_line();
        let opened = open.is_some_and(|j| r.lines[j].kind == Kind::Open);
        if !opened {
            let (line, col) = match open {
                Some(j) => (r.lines[j].number, 0),
                None => (r.last_line_number(), 0),
            };
            let shown = match &kind {
                EntryKind::Service(n) => n.clone(),
                EntryKind::Defaults => "(null)".to_string(),
            };
            let error = diag(
                &r.span(line, col),
                Severity::Error,
                format!("expected a line holding only '{{' after '{}'", text.trim()),
            )
            .hint("put '{' alone on the line after the header (no comment, no attribute); xinetd drops this entry")
            .xparse(
                XinetdLevel::Error,
                "find_next_entry",
                format!("Service {shown}: missing '{{'"),
            );
            let service = match kind {
                EntryKind::Service(n) => Some((n, head_span)),
                EntryKind::Defaults => None,
            };
            let skip = r.skip_entry();
            items.push(Item::Rejected {
                error,
                service,
                skip,
            });
            continue;
        }
        // Attribute lines up to the lone '}' (F-027, F-028).
        let mut lines = Vec::new();
        let end = loop {
            let Some(j) = r.next_line() else {
                break EntryEnd::Eof {
                    line: r.last_line_number(),
                };
            };
            if r.lines[j].kind == Kind::Close {
                break EntryEnd::Closed;
            }
            match parse_attr_line(&mut r, j) {
                AttrParse::Ok(l) => lines.push(l),
                AttrParse::Err(error) => {
                    let skip = r.skip_entry();
                    break EntryEnd::BadLine { error, skip };
                }
            }
        };
        let open_span = match open {
            Some(j) => r.span(r.lines[j].number, 0),
            None => head_span.clone(),
        };
        items.push(Item::Entry(Entry {
            kind,
            header: head_span,
            open: open_span,
            lines,
            end,
        }));
    }
    Document {
        file,
        items,
        notes: r.notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(doc: &Document) -> Vec<&Entry> {
        doc.items
            .iter()
            .filter_map(|i| match i {
                Item::Entry(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn classify_shortcut_agrees_with_the_grammar() {
        let alphabet = [" ", "\t", "\r", "\x0B", "#", "{", "}", "a", "=", "\u{e9}"];
        let mut lines = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for l in &lines {
                for c in alphabet {
                    next.push(format!("{l}{c}"));
                }
            }
            lines.extend(next);
        }
        for l in &lines {
            assert_eq!(classify(l), classify_with_grammar(l), "{l:?}");
        }
    }

    #[test]
    fn attribute_shortcut_agrees_with_the_grammar() {
        let alphabet = [
            " ", "\t", "\r", "\x0C", "=", "+", "-", "a", "#", "}", "\u{e9}",
        ];
        let mut lines = vec![String::new()];
        let mut frontier = lines.clone();
        for _ in 0..5 {
            let mut next = Vec::new();
            for l in &frontier {
                for c in alphabet {
                    next.push(format!("{l}{c}"));
                }
            }
            lines.extend(next.iter().cloned());
            frontier = next;
        }
        for l in &lines {
            assert_eq!(shape(l), shape_with_grammar(l), "{l:?}");
        }
        for l in [
            "\tserver_args\t= -a  -b\t# c\r",
            "  log_on_success  +=PID",
            "x -= ",
            "only_from==1",
        ] {
            assert_eq!(shape(l), shape_with_grammar(l), "{l:?}");
        }
    }

    #[test]
    fn basic_entry() {
        let doc = parse_document(
            b"# c\nservice echo\n{\n\tid = x\n\tserver_args += a  b\t# c\n}\n",
            "f",
        );
        let e = entries(&doc);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind, EntryKind::Service("echo".into()));
        assert_eq!(e[0].lines[1].op, Op::Add);
        let vals: Vec<_> = e[0].lines[1].values.iter().map(|v| v.0.as_str()).collect();
        assert_eq!(vals, ["a", "b", "#", "c"]);
        assert_eq!(e[0].lines[1].values[0].1.line, 5);
        assert_eq!(e[0].lines[0].span.column, 2);
    }

    #[test]
    fn crlf_sticks_to_values_but_not_braces() {
        let doc = parse_document(b"service echo\r\n{\r\nwait = no\r\n}\r\n", "f");
        let e = entries(&doc);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].lines[0].values[0].0, "no\r");
        assert!(matches!(e[0].end, EntryEnd::Closed));
    }

    #[test]
    fn operator_errors() {
        // (line, xinetd's message, entries that survive)
        for (line, text, n) in [
            ("wait=no", "Attribute wait needs a space before operator", 2),
            (
                "log_on_success+= PID",
                "Attribute log_on_success+ needs a space before operator",
                2,
            ),
            ("wait   ", "Nothing after attribute: wait", 2),
            ("wait := no", "Bad operator for attribute: wait", 2),
            ("} # x", "Bad operator for attribute: }", 2),
            // The name runs to the end of the line: xinetd scans on into "}\nservice b",
            // erases the newline after "}", and so loses service b's header (corpus i04).
            ("wait", "Bad operator for attribute: wait", 1),
        ] {
            let src = format!("service a\n{{\n{line}\n}}\nservice b\n{{\n}}\n");
            let doc = parse_document(src.as_bytes(), "f");
            let e = entries(&doc);
            match &e[0].end {
                EntryEnd::BadLine { error, .. } => assert_eq!(error.xinetd[0].text, text),
                other => panic!("{line}: {other:?}"),
            }
            assert_eq!(e.len(), n, "{line}");
        }
    }

    #[test]
    fn stray_line_swallows_next_service() {
        let doc = parse_document(b"junk\nservice a\n{\n}\nservice b\n{\n}\n", "f");
        assert!(matches!(&doc.items[0], Item::Rejected { skip, .. } if skip.swallowed.len() == 1));
        assert_eq!(entries(&doc).len(), 1);
    }

    #[test]
    fn nul_truncates_and_last_line_without_newline() {
        let doc = parse_document(b"service a\n{\nwait = n\0o\n}", "f");
        let e = entries(&doc);
        assert_eq!(e[0].lines[0].values[0].0, "n");
        assert!(matches!(e[0].end, EntryEnd::Closed));
        assert_eq!(doc.notes.len(), 1);
    }
}
