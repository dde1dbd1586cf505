//! Writing SVG into one `String`: escaping, compact coordinates, and the few elements that every
//! chart shares.

use crate::ticks::{write_exact, write_significant};
use std::fmt::Write;

/// The average advance of one character of the 11-unit font that charts lay text out for. Labels
/// are measured with it to size margins and to truncate what would not fit.
pub(crate) const CHAR_WIDTH: f64 = 6.5;

/// The font size set on the root element; the page's CSS may override it.
pub(crate) const FONT_SIZE: u32 = 11;

/// An SVG document being written.
pub(crate) struct SvgWriter {
    out: String,
}

impl SvgWriter {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        SvgWriter { out: String::with_capacity(capacity) }
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }

    /// Writes markup as is; the caller guarantees it is well formed.
    pub(crate) fn raw(&mut self, markup: &str) {
        self.out.push_str(markup);
    }

    /// Writes text content or an attribute value, escaped.
    pub(crate) fn text(&mut self, text: &str) {
        escape_into(&mut self.out, text);
    }

    /// Writes at most `max_chars` characters of `text`, escaped, ending in `…` when cut.
    pub(crate) fn text_truncated(&mut self, text: &str, max_chars: usize) {
        match truncation_point(text, max_chars) {
            Some(end) => {
                self.text(&text[..end]);
                self.out.push('…');
            }
            None => self.text(text),
        }
    }

    pub(crate) fn integer(&mut self, value: usize) {
        let _ = write!(self.out, "{value}");
    }

    /// Writes a coordinate rounded to a tenth, without a trailing `.0`: a tenth of a user unit is
    /// below what a screen shows, and the short form keeps long paths small.
    pub(crate) fn coordinate(&mut self, value: f64) {
        // The cast saturates and maps NaN to 0; callers only pass coordinates inside the view box.
        let tenths = (value * 10.0).round() as i64;
        if tenths < 0 {
            self.out.push('-');
        }
        let magnitude = tenths.unsigned_abs();
        let _ = write!(self.out, "{}", magnitude / 10);
        let fraction = magnitude % 10;
        if fraction != 0 {
            self.out.push('.');
            self.out.push(char::from(b'0' + fraction as u8));
        }
    }

    /// Writes a number that reads back exactly in JavaScript (for `data-*` attributes).
    pub(crate) fn exact(&mut self, value: f64) {
        write_exact(&mut self.out, value);
    }

    /// Writes a number with `digits` significant digits (for labels).
    pub(crate) fn significant(&mut self, value: f64, digits: usize) {
        write_significant(&mut self.out, value, digits);
    }

    /// Opens the root element. The width and height attributes give the natural size; the page's
    /// CSS may scale the chart, which the view box keeps in proportion.
    pub(crate) fn open_root(&mut self, class: &str, width: f64, height: f64, label: &str) {
        self.raw(r#"<svg xmlns="http://www.w3.org/2000/svg" class=""#);
        self.raw(class);
        self.raw(r#"" viewBox="0 0 "#);
        self.coordinate(width);
        self.raw(" ");
        self.coordinate(height);
        self.raw(r#"" width=""#);
        self.coordinate(width);
        self.raw(r#"" height=""#);
        self.coordinate(height);
        let _ = write!(self.out, r#"" font-size="{FONT_SIZE}" role="img""#);
        if !label.is_empty() {
            self.raw(r#" aria-label=""#);
            self.text(label);
            self.raw(r#"""#);
        }
        self.raw(">\n");
    }

    pub(crate) fn close_root(&mut self) {
        self.raw("</svg>\n");
    }

    /// Writes the chart title centred above everything, cut to the width.
    pub(crate) fn title(&mut self, title: &str, width: f64) {
        if title.is_empty() {
            return;
        }
        self.raw(r#"<text class="chart-title" x=""#);
        self.coordinate(width / 2.0);
        self.raw(r#"" y="16" text-anchor="middle">"#);
        self.text_truncated(title, chars_that_fit(width - 16.0));
        self.raw("</text>\n");
    }

    /// Writes the "no data" message centred in the chart.
    pub(crate) fn no_data(&mut self, width: f64, height: f64) {
        self.raw(r#"<text class="no-data" x=""#);
        self.coordinate(width / 2.0);
        self.raw(r#"" y=""#);
        self.coordinate(height / 2.0);
        self.raw(r#"" text-anchor="middle">no data</text>"#);
        self.raw("\n");
    }

    /// Writes `<line class="…" x1 y1 x2 y2/>`.
    pub(crate) fn line(&mut self, class: &str, from: (f64, f64), to: (f64, f64)) {
        self.raw(r#"<line class=""#);
        self.raw(class);
        self.raw(r#"" x1=""#);
        self.coordinate(from.0);
        self.raw(r#"" y1=""#);
        self.coordinate(from.1);
        self.raw(r#"" x2=""#);
        self.coordinate(to.0);
        self.raw(r#"" y2=""#);
        self.coordinate(to.1);
        self.raw(r#""/>"#);
    }

    /// Opens `<text class="…" x y text-anchor>`; the caller writes the content and closes it.
    pub(crate) fn open_text(&mut self, class: &str, at: (f64, f64), anchor: &str) {
        self.raw(r#"<text class=""#);
        self.raw(class);
        self.raw(r#"" x=""#);
        self.coordinate(at.0);
        self.raw(r#"" y=""#);
        self.coordinate(at.1);
        self.raw(r#"" text-anchor=""#);
        self.raw(anchor);
        self.raw(r#"">"#);
    }
}

/// How many characters of the chart font fit in `width` user units (at least one).
pub(crate) fn chars_that_fit(width: f64) -> usize {
    ((width / CHAR_WIDTH).floor() as usize).max(1)
}

/// The byte offset at which to cut `text` so that, with an ellipsis added, it shows at most
/// `max_chars` characters; `None` when it fits whole.
fn truncation_point(text: &str, max_chars: usize) -> Option<usize> {
    let max_chars = max_chars.max(1);
    let (cut, _) = text.char_indices().nth(max_chars)?;
    // Keep room for the ellipsis itself.
    text.char_indices().nth(max_chars - 1).map(|(end, _)| end).or(Some(cut))
}

/// Appends `text` escaped for XML text and attribute values. Characters that XML 1.0 forbids
/// (control characters other than tab, newline and carriage return) become U+FFFD, so that a
/// label from a user can never break the document.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    let mut clean_from = 0;
    for (index, character) in text.char_indices() {
        let replacement = match character {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&#39;",
            '\t' | '\n' | '\r' => continue,
            character if character.is_control() && u32::from(character) < 0x20 => "\u{FFFD}",
            '\u{FFFE}' | '\u{FFFF}' => "\u{FFFD}",
            _ => continue,
        };
        out.push_str(&text[clean_from..index]);
        out.push_str(replacement);
        clean_from = index + character.len_utf8();
    }
    out.push_str(&text[clean_from..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_escape(text: &str, expected: &str) {
        let mut out = String::new();
        escape_into(&mut out, text);
        assert_eq!(out, expected, "escaping {text:?}");
    }

    #[test]
    fn escaping_covers_markup_quotes_and_forbidden_characters() {
        check_escape("plain", "plain");
        check_escape("a<b>&\"c'", "a&lt;b&gt;&amp;&quot;c&#39;");
        check_escape("</text><script>", "&lt;/text&gt;&lt;script&gt;");
        check_escape("line\none\ttab", "line\none\ttab");
        check_escape("bell\u{7}nul\u{0}", "bell\u{FFFD}nul\u{FFFD}");
        check_escape("ünïcødé ✓", "ünïcødé ✓");
        check_escape("", "");
    }

    fn check_coordinate(value: f64, expected: &str) {
        let mut writer = SvgWriter::with_capacity(8);
        writer.coordinate(value);
        assert_eq!(writer.finish(), expected, "coordinate {value}");
    }

    #[test]
    fn coordinates_are_tenths_without_trailing_zeros() {
        check_coordinate(0.0, "0");
        check_coordinate(12.0, "12");
        check_coordinate(12.34, "12.3");
        check_coordinate(12.36, "12.4");
        check_coordinate(-0.04, "0");
        check_coordinate(-0.5, "-0.5");
        check_coordinate(-12.25, "-12.3");
        check_coordinate(639.96, "640");
    }

    fn check_truncation(text: &str, max_chars: usize, expected: &str) {
        let mut writer = SvgWriter::with_capacity(8);
        writer.text_truncated(text, max_chars);
        assert_eq!(writer.finish(), expected, "{text:?} cut to {max_chars} characters");
    }

    #[test]
    fn truncation_counts_characters_and_adds_an_ellipsis() {
        check_truncation("short", 10, "short");
        check_truncation("exactly", 7, "exactly");
        check_truncation("too long", 7, "too lo…");
        check_truncation("äöüäöü", 4, "äöü…");
        check_truncation("a<b<c<d", 4, "a&lt;b…");
        check_truncation("abc", 0, "…");
    }
}
