//! A borrowed, allocation-free reader for the common shape of a payload: no DOM, no field copied
//! before it is needed, decimals read straight from their bytes.
//!
//! It is a fast path in front of serde, never a second parser with its own rules: every method
//! answers `None` as soon as the text leaves the plain shape it knows (an escape in a string, an
//! exponent, a duplicate or unknown key, a value of an unexpected type, more digits than a `u64`
//! holds), and the caller then hands the whole payload to serde, whose answer (value or error) is
//! the one that counts. What the scanner does accept, it reads to exactly the value serde's path
//! gives, scale of every decimal included.

use rust_decimal::Decimal;

/// A position in a JSON text.
pub(crate) struct Scan<'a> {
    text: &'a str,
    at: usize,
}

/// The most digits a decimal read here may carry: the mantissa stays in a `u64` and the
/// `Decimal` is built exactly (longer numbers go to serde's path).
const MAX_DIGITS: usize = 19;

impl<'a> Scan<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text, at: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Consumes `byte` (after any white space).
    pub(crate) fn eat(&mut self, byte: u8) -> Option<()> {
        self.skip_ws();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Consumes `byte` when it comes next (after any white space); says whether it did.
    pub(crate) fn eat_if(&mut self, byte: u8) -> bool {
        self.skip_ws();
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    /// Whether nothing but white space is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.at == self.text.len()
    }

    /// A string without escapes or control characters, borrowed from the text.
    pub(crate) fn str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let rest = &self.bytes()[start..];
        let len = memchr::memchr(b'"', rest)?;
        let body = &rest[..len];
        if body.iter().any(|&b| b == b'\\' || b < 0x20) {
            return None;
        }
        self.at = start + len + 1;
        // Both ends are ASCII quotes, so the slice falls on character boundaries.
        self.text.get(start..start + len)
    }

    /// An object key and its colon.
    pub(crate) fn key(&mut self) -> Option<&'a str> {
        let key = self.str()?;
        self.eat(b':')?;
        Some(key)
    }

    /// Exactly the key `expected` and its colon.
    pub(crate) fn expect_key(&mut self, expected: &str) -> Option<()> {
        (self.key()? == expected).then_some(())
    }

    pub(crate) fn bool(&mut self) -> Option<bool> {
        self.skip_ws();
        let rest = &self.bytes()[self.at..];
        let (value, len) = if rest.starts_with(b"true") {
            (true, 4)
        } else if rest.starts_with(b"false") {
            (false, 5)
        } else {
            return None;
        };
        self.at += len;
        self.end_of_literal().then_some(value)
    }

    /// Consumes `null` when it comes next; says whether it did.
    pub(crate) fn null(&mut self) -> bool {
        self.skip_ws();
        let found = self.bytes()[self.at..].starts_with(b"null");
        if found {
            self.at += 4;
        }
        found && self.end_of_literal()
    }

    /// A literal or number must end at a delimiter, or serde would read something else.
    fn end_of_literal(&self) -> bool {
        matches!(self.peek(), None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
    }

    /// A JSON integer that fits an `i64` (non-negative: negative ones go to serde).
    pub(crate) fn int(&mut self) -> Option<i64> {
        self.skip_ws();
        let (mantissa, scale, len) = plain_number(&self.bytes()[self.at..], true)?;
        if scale != 0 {
            return None;
        }
        self.at += len;
        self.end_of_literal().then_some(())?;
        i64::try_from(mantissa).ok()
    }

    /// A decimal written as a JSON number or a string holding one, in the plain form
    /// `digits[.digits]`: what `exact_decimal` reads from the same text.
    pub(crate) fn decimal(&mut self) -> Option<Decimal> {
        self.skip_ws();
        if self.peek()? == b'"' {
            let text = self.str()?;
            let (mantissa, scale, len) = plain_number(text.as_bytes(), false)?;
            (len == text.len()).then_some(())?;
            return Some(Decimal::from_i128_with_scale(i128::from(mantissa), scale));
        }
        let (mantissa, scale, len) = plain_number(&self.bytes()[self.at..], true)?;
        self.at += len;
        self.end_of_literal().then_some(())?;
        Some(Decimal::from_i128_with_scale(i128::from(mantissa), scale))
    }
}

/// Reads `digits[.digits]` at the start of `bytes`: (mantissa, scale, bytes used). With `json`,
/// the JSON number grammar's extra rule holds (no leading zero before more digits). `None` for
/// anything else (a sign, an exponent, more than [`MAX_DIGITS`] digits).
fn plain_number(bytes: &[u8], json: bool) -> Option<(u64, u32, usize)> {
    let whole = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if whole == 0 || (json && whole > 1 && bytes[0] == b'0') {
        return None;
    }
    let mut len = whole;
    let mut fraction = 0;
    if bytes.get(len) == Some(&b'.') {
        fraction = bytes[len + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if fraction == 0 {
            return None;
        }
        len += 1 + fraction;
    }
    if matches!(bytes.get(len), Some(b'e' | b'E' | b'.')) || whole + fraction > MAX_DIGITS {
        return None;
    }
    let mantissa = bytes[..len]
        .iter()
        .filter(|b| b.is_ascii_digit())
        .try_fold(0u64, |m, &b| m.checked_mul(10)?.checked_add(u64::from(b - b'0')))?;
    Some((mantissa, fraction as u32, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::polymarket::decimal_from_json_text;

    fn decimal(text: &str) -> Option<Decimal> {
        let mut scan = Scan::new(text);
        let value = scan.decimal()?;
        scan.at_end().then_some(value)
    }

    #[test]
    fn plain_decimals_read_as_exact_decimal_reads_them_scale_included() {
        for text in ["0.500", "\"0.500\"", "1000000", "\"5\"", "0", "\"0.001\"", "\"007.10\"", "1767607200000"] {
            let fast = decimal(text).unwrap_or_else(|| panic!("{text} is plain"));
            let slow = decimal_from_json_text(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(fast, slow, "{text}");
            assert_eq!(fast.to_string(), slow.to_string(), "{text}: the scale is kept");
        }
    }

    #[test]
    fn anything_outside_the_plain_form_is_left_to_serde() {
        for text in [
            "-1",
            "\"-1\"",
            "1e5",
            "\"1E5\"",
            "01",
            ".5",
            "\"1.\"",
            "1.",
            "\" 1\"",
            "\"1 \"",
            "\"\"",
            "null",
            "true",
            "12345678901234567890",
            "\"0.12345678901234567890\"",
            "1.2.3",
            "\"0x10\"",
            "1a",
        ] {
            assert_eq!(decimal(text), None, "{text}");
        }
    }

    #[test]
    fn strings_with_escapes_or_control_characters_are_left_to_serde() {
        assert_eq!(Scan::new(r#""a\"b""#).str(), None);
        assert_eq!(Scan::new("\"a\tb\"").str(), None);
        assert_eq!(Scan::new(r#""héllo" "#).str(), Some("héllo"));
    }

    #[test]
    fn integers_literals_and_structure() {
        let mut scan = Scan::new(r#" { "ts" : 17 , "ok" : true , "no" : null } "#);
        assert!(scan.eat(b'{').is_some());
        assert_eq!(scan.key(), Some("ts"));
        assert_eq!(scan.int(), Some(17));
        assert!(scan.eat(b',').is_some());
        assert_eq!(scan.key(), Some("ok"));
        assert_eq!(scan.bool(), Some(true));
        assert!(scan.eat_if(b','));
        scan.expect_key("no").unwrap_or_else(|| panic!("key"));
        assert!(scan.null());
        assert!(scan.eat(b'}').is_some());
        assert!(scan.at_end());
        for bad in ["1.5", "-3", "truex", "00", "99999999999999999999", "12345678901234567890"] {
            assert_eq!(Scan::new(bad).int(), None, "{bad}");
        }
        assert_eq!(Scan::new("trueish").bool(), None);
    }
}
