//! The compact session format: the same lines as a JSON session, with every book written in about
//! a hundred bytes instead of a JSON object of ~465.
//!
//! A session is mostly books, and reading their JSON is most of a replay's work; this form is read
//! an order of magnitude faster and is about five times smaller. It holds exactly what the JSON
//! file holds, line for line (`whale-trader convert` writes it, and a replay of either gives the
//! same audit trail): a book is written in its compact form only when it parsed as a usable book,
//! and every other line (trades, markets, controls, a refused book, a malformed line) is kept as
//! its own text and read by the JSON parser when replayed.
//!
//! Layout: [`MAGIC`], a version byte, a flags byte ([`FLAG_TICKS`]), then the source file's length
//! and modification time (little-endian `u64`, `i64` nanoseconds; zero when written from a stream),
//! then records. A record is a tag byte, its body's length (LEB128) and the body:
//!
//! | tag | body | line? |
//! | --- | --- | --- |
//! | `STRING` | UTF-8 bytes, appended to the file's string table | no |
//! | `TEXT` | a line's text, read as a JSON session line | yes |
//! | `BOOK` | `ts`, market and token (string-table indexes), book timestamp − `ts`, flags, hash, min order size, tick size, last trade price?, bids, asks | yes |
//! | `TOO_LONG` | the length of a line over the line limit | yes |
//! | `NOT_UTF8` | (empty) a line that was not UTF-8 | yes |
//!
//! `ts` is a little-endian `i64`; the other integers are LEB128, signed ones zigzag-encoded. A
//! decimal is a head byte (its scale, a sign bit and a width bit), then its mantissa's magnitude,
//! little-endian: eight bytes, or twelve for one wider than 64 bits. Fixed widths make a book a
//! few dozen bytes longer than varints would (about 100 in all, against 57) and read a sixth
//! faster: a replay spends more of its time decoding decimals than reading the file. A hash of 40
//! lower-case hex digits is stored as its 20 bytes. The file comes from outside like any session:
//! every length is bounded, a record that does not decode is a malformed line (its framing lets
//! the next one be read), and a decoded book passes the same rules as one read from JSON.

use std::io::{BufRead, Read, Write};

use rust_decimal::Decimal;

use super::file::{LineError, MAX_LINE_BYTES};
use crate::clock::Timestamp;
use crate::market::{BookHash, HashForm, OrderBook, PriceLevel};

/// The first bytes of a compact session file.
pub const MAGIC: &[u8; 8] = b"\x89WTS\r\n\x1a\n";
/// The format's version; a reader refuses another (version 1 held decimals and `ts` as varints).
/// A compact file is always converted from a JSON session, which converts again.
pub const VERSION: u8 = 2;
/// Flags bit: the session carries its own timer ticks (see [`crate::session`]).
pub const FLAG_TICKS: u8 = 1;

const STRING: u8 = 1;
const TEXT: u8 = 2;
const BOOK: u8 = 3;
const TOO_LONG: u8 = 4;
const NOT_UTF8: u8 = 5;

/// Book flags.
const NEG_RISK: u8 = 1;
const HAS_LAST_TRADE: u8 = 2;
const HEX_HASH: u8 = 4;

// A decimal is a head byte, its scale and these flags, then its magnitude: eight bytes, or
// twelve when it is wider than 64 bits (a decimal's mantissa has 96), little-endian.
const SCALE_BITS: u8 = 0x3f;
const WIDE: u8 = 0x40;
const NEGATIVE: u8 = 0x80;

/// The most distinct strings (market and token ids) one file may define, and their total size:
/// far past any real session, a bound for a damaged or hostile one.
const MAX_STRINGS: usize = 1 << 20;
const MAX_STRING_BYTES: usize = 64 << 20;

/// The header: what a reader learns before the first record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BinaryHeader {
    pub flags: u8,
    /// The JSON file this was converted from, to tell whether it still matches it.
    pub source_len: u64,
    pub source_mtime_ns: i64,
}

impl BinaryHeader {
    pub const LEN: usize = MAGIC.len() + 2 + 16;

    pub fn carries_ticks(&self) -> bool {
        self.flags & FLAG_TICKS != 0
    }

    pub fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(MAGIC)?;
        out.write_all(&[VERSION, self.flags])?;
        out.write_all(&self.source_len.to_le_bytes())?;
        out.write_all(&self.source_mtime_ns.to_le_bytes())
    }

    /// Reads the header; `Ok(None)` when the bytes are not a compact session (no magic).
    pub fn read(input: &mut impl Read) -> Result<Option<Self>, BinaryError> {
        let mut bytes = [0u8; Self::LEN];
        let mut got = 0;
        while got < bytes.len() {
            match input.read(&mut bytes[got..])? {
                0 => break,
                n => got += n,
            }
        }
        if got < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Ok(None);
        }
        if got < Self::LEN {
            return Err(BinaryError::Truncated);
        }
        let version = bytes[MAGIC.len()];
        if version != VERSION {
            return Err(BinaryError::Version(version));
        }
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[at..at + 8]);
            w
        };
        Ok(Some(Self {
            flags: bytes[MAGIC.len() + 1],
            source_len: u64::from_le_bytes(word(MAGIC.len() + 2)),
            source_mtime_ns: i64::from_le_bytes(word(MAGIC.len() + 10)),
        }))
    }
}

/// Why a compact session, or one of its records, could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BinaryError {
    #[error(
        "compact session version {0}, this build reads version {VERSION}: convert its JSON session again (`whale-trader convert`)"
    )]
    Version(u8),
    #[error("the file ends inside a record")]
    Truncated,
    #[error("record of {len} bytes, over the {MAX_LINE_BYTES}-byte limit")]
    RecordTooLong { len: u64 },
    #[error("record tag {0} is not one this version writes")]
    UnknownTag(u8),
    #[error("{field}: {problem}")]
    BadRecord { field: &'static str, problem: &'static str },
    #[error("the string table is full ({MAX_STRINGS} strings or {MAX_STRING_BYTES} bytes)")]
    StringTableFull,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn bad(field: &'static str, problem: &'static str) -> BinaryError {
    BinaryError::BadRecord { field, problem }
}

/// One line of a compact session, as the reader hands it on.
#[derive(Debug)]
pub enum BinaryLine {
    /// A line kept as text (or one that could not be read as text).
    Text(Result<String, LineError>),
    /// A book line: its time, and the book's fields as the record states them, before the rules
    /// a book must keep ([`crate::polymarket::settle_wire_book`]).
    Book { ts: i64, book: Box<OrderBook> },
    /// A record that did not decode: a malformed line.
    Bad(BinaryError),
}

/// Writes a compact session: the header, then one call per line in order.
pub struct BinaryWriter<W: Write> {
    out: W,
    strings: std::collections::HashMap<String, u64>,
    body: Vec<u8>,
}

impl<W: Write> BinaryWriter<W> {
    pub fn new(mut out: W, header: BinaryHeader) -> std::io::Result<Self> {
        header.write(&mut out)?;
        Ok(Self { out, strings: std::collections::HashMap::new(), body: Vec::with_capacity(256) })
    }

    fn record(&mut self, tag: u8) -> std::io::Result<()> {
        self.out.write_all(&[tag])?;
        let mut len = Vec::with_capacity(5);
        put_u64(&mut len, self.body.len() as u64);
        self.out.write_all(&len)?;
        self.out.write_all(&self.body)
    }

    /// The string table's index of `text`, defining it first if it is new.
    fn string(&mut self, text: &str) -> std::io::Result<u64> {
        if let Some(&index) = self.strings.get(text) {
            return Ok(index);
        }
        let index = self.strings.len() as u64;
        self.body.clear();
        self.body.extend_from_slice(text.as_bytes());
        self.record(STRING)?;
        self.strings.insert(text.to_owned(), index);
        Ok(index)
    }

    /// A line kept as it was read.
    pub fn text(&mut self, line: &Result<String, LineError>) -> std::io::Result<()> {
        self.body.clear();
        match line {
            Ok(text) => {
                self.body.extend_from_slice(text.as_bytes());
                self.record(TEXT)
            }
            Err(LineError::TooLong { len }) => {
                put_u64(&mut self.body, *len as u64);
                self.record(TOO_LONG)
            }
            Err(LineError::NotUtf8) => self.record(NOT_UTF8),
        }
    }

    /// A book line at `ts`, from the book it parsed to.
    pub fn book(&mut self, ts: i64, book: &OrderBook) -> std::io::Result<()> {
        let market = self.string(&book.market)?;
        let token = self.string(&book.asset_id)?;
        let body = &mut self.body;
        body.clear();
        body.extend_from_slice(&ts.to_le_bytes());
        put_u64(body, market);
        put_u64(body, token);
        put_i64(body, book.timestamp.millis().wrapping_sub(ts));
        let hash = book.hash.form();
        let flags = (u8::from(book.neg_risk) * NEG_RISK)
            | (u8::from(book.last_trade_price.is_some()) * HAS_LAST_TRADE)
            | (u8::from(matches!(hash, HashForm::Hex(_))) * HEX_HASH);
        body.push(flags);
        match hash {
            HashForm::Hex(bytes) => body.extend_from_slice(bytes),
            HashForm::Text(text) => {
                put_u64(body, text.len() as u64);
                body.extend_from_slice(text.as_bytes());
            }
        }
        put_decimal(body, book.min_order_size);
        put_decimal(body, book.tick_size);
        if let Some(price) = book.last_trade_price {
            put_decimal(body, price);
        }
        for side in [&book.bids, &book.asks] {
            put_u64(body, side.len() as u64);
            for level in side {
                put_decimal(body, level.price);
                put_decimal(body, level.size);
            }
        }
        self.record(BOOK)
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads the records of a compact session after its header, one line at a time.
pub struct BinaryReader<R> {
    input: R,
    strings: Vec<String>,
    string_bytes: usize,
    body: Vec<u8>,
    /// Books handed back by the reader's user ([`BinaryReader::recycle`]), decoded into again:
    /// a replay then reads book after book without allocating.
    // The boxes are what is reused: a book travels to the engine boxed (`Input::Book`).
    #[allow(clippy::vec_box)]
    spare_books: Vec<Box<OrderBook>>,
}

/// How many handed-back books a reader keeps; more are freed.
const MAX_SPARE_BOOKS: usize = 1_024;

impl<R: BufRead> BinaryReader<R> {
    /// A reader of the records that follow the header `input` has already been read past.
    pub fn new(input: R) -> Self {
        Self { input, strings: Vec::new(), string_bytes: 0, body: Vec::new(), spare_books: Vec::new() }
    }

    /// Hands back a book this reader returned, once its user is done with it: the next book
    /// record is decoded into it, reusing its strings and levels.
    pub fn recycle(&mut self, book: Box<OrderBook>) {
        if self.spare_books.len() < MAX_SPARE_BOOKS {
            self.spare_books.push(book);
        }
    }

    /// The next line; `Ok(None)` at the end. An error is the file's own (a read failure, or a
    /// record cut short by the end of the file): nothing after it can be read.
    pub fn next_line(&mut self) -> Result<Option<BinaryLine>, BinaryError> {
        loop {
            // Most records lie whole in the read buffer: decoded from there, not copied out first.
            let buffered = self.input.fill_buf()?;
            if buffered.is_empty() {
                return Ok(None);
            }
            if let Some((tag, start, len)) = frame(buffered)
                && start + len <= buffered.len()
            {
                let body = &buffered[start..start + len];
                let line = decode(&mut self.strings, &mut self.string_bytes, &mut self.spare_books, tag, body);
                self.input.consume(start + len);
                match line? {
                    Some(line) => return Ok(Some(line)),
                    None => continue,
                }
            }
            let mut tag = [0u8; 1];
            self.input.read_exact(&mut tag)?;
            let len = read_u64(&mut self.input)?;
            if len > MAX_LINE_BYTES as u64 {
                return Err(BinaryError::RecordTooLong { len });
            }
            self.body.resize(len as usize, 0);
            self.input.read_exact(&mut self.body).map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => BinaryError::Truncated,
                _ => BinaryError::Io(e),
            })?;
            if let Some(line) =
                decode(&mut self.strings, &mut self.string_bytes, &mut self.spare_books, tag[0], &self.body)?
            {
                return Ok(Some(line));
            }
        }
    }
}

/// A record's tag, where its body starts and its length, when its frame lies whole in `bytes`
/// and its length is within the limit (anything else is read the slow way, which names the fault).
fn frame(bytes: &[u8]) -> Option<(u8, usize, usize)> {
    let (&tag, rest) = bytes.split_first()?;
    let mut len = 0usize;
    for (i, &byte) in rest.iter().take(4).enumerate() {
        len |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return (len <= MAX_LINE_BYTES).then_some((tag, 2 + i, len));
        }
    }
    None
}

/// One record's body: a line, or `None` for a string-table definition (not a line). An error
/// is the file's own (its string table overflowing); a record that does not decode is a bad line.
/// A book is decoded into a spare one when there is one.
#[allow(clippy::vec_box)]
fn decode(
    strings: &mut Vec<String>,
    string_bytes: &mut usize,
    spare_books: &mut Vec<Box<OrderBook>>,
    tag: u8,
    body: &[u8],
) -> Result<Option<BinaryLine>, BinaryError> {
    Ok(Some(match tag {
        STRING => {
            if strings.len() >= MAX_STRINGS || *string_bytes + body.len() > MAX_STRING_BYTES {
                return Err(BinaryError::StringTableFull);
            }
            let text = std::str::from_utf8(body).map_err(|_| bad("string", "not UTF-8"))?;
            *string_bytes += text.len();
            strings.push(text.to_owned());
            return Ok(None);
        }
        TEXT => BinaryLine::Text(String::from_utf8(body.to_vec()).map_err(|_| LineError::NotUtf8)),
        BOOK => {
            let mut into = spare_books.pop().unwrap_or_default();
            match book(strings, body, &mut into) {
                Ok(ts) => BinaryLine::Book { ts, book: into },
                Err(e) => {
                    spare_books.push(into);
                    BinaryLine::Bad(e)
                }
            }
        }
        TOO_LONG => match Body::new(body).u64("line length") {
            Ok(len) => BinaryLine::Text(Err(LineError::TooLong { len: usize::try_from(len).unwrap_or(usize::MAX) })),
            Err(e) => BinaryLine::Bad(e),
        },
        NOT_UTF8 => BinaryLine::Text(Err(LineError::NotUtf8)),
        other => BinaryLine::Bad(BinaryError::UnknownTag(other)),
    }))
}

/// Decodes a book record into `book`, overwriting every field (its allocations are reused);
/// returns the line's time.
fn book(strings: &[String], body: &[u8], book: &mut OrderBook) -> Result<i64, BinaryError> {
    let string_at = |index: u64| {
        usize::try_from(index)
            .ok()
            .and_then(|i| strings.get(i))
            .map(String::as_str)
            .ok_or_else(|| bad("string index", "not defined before its use"))
    };
    let set = |field: &mut String, text: &str| {
        field.clear();
        field.push_str(text);
    };
    let mut body = Body::new(body);
    let ts = i64::from_le_bytes(*body.array::<8>("ts")?);
    set(&mut book.market, string_at(body.u64("market")?)?);
    set(&mut book.asset_id, string_at(body.u64("asset_id")?)?);
    let timestamp = ts.checked_add(body.i64("timestamp")?).ok_or_else(|| bad("timestamp", "out of range"))?;
    book.timestamp = Timestamp::from_millis(timestamp);
    let flags = body.byte("flags")?;
    if flags & HEX_HASH != 0 {
        book.hash.set_hex_bytes(body.array::<20>("hash")?);
    } else {
        let len = body.u64("hash")?;
        let bytes = body.bytes(usize::try_from(len).unwrap_or(usize::MAX), "hash")?;
        book.hash = BookHash::from(std::str::from_utf8(bytes).map_err(|_| bad("hash", "not UTF-8"))?.to_owned());
    }
    book.min_order_size = body.decimal("min_order_size")?;
    book.tick_size = body.decimal("tick_size")?;
    book.last_trade_price = if flags & HAS_LAST_TRADE != 0 { Some(body.decimal("last_trade_price")?) } else { None };
    book.neg_risk = flags & NEG_RISK != 0;
    body.levels(&mut book.bids, "bids")?;
    body.levels(&mut book.asks, "asks")?;
    if !body.is_empty() {
        return Err(bad("book", "bytes after the last level"));
    }
    Ok(ts)
}

/// The bytes of one record's body, read front to back.
struct Body<'a> {
    bytes: &'a [u8],
}

impl<'a> Body<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn byte(&mut self, field: &'static str) -> Result<u8, BinaryError> {
        let (&first, rest) = self.bytes.split_first().ok_or_else(|| bad(field, "missing"))?;
        self.bytes = rest;
        Ok(first)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<&'a [u8; N], BinaryError> {
        let (taken, rest) = self.bytes.split_first_chunk::<N>().ok_or_else(|| bad(field, "longer than its record"))?;
        self.bytes = rest;
        Ok(taken)
    }

    fn bytes(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], BinaryError> {
        if len > self.bytes.len() {
            return Err(bad(field, "longer than its record"));
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(taken)
    }

    fn u128(&mut self, field: &'static str) -> Result<u128, BinaryError> {
        // Most values here are one byte long (string indices, level counts, small deltas).
        if let Some((&byte, rest)) = self.bytes.split_first()
            && byte < 0x80
        {
            self.bytes = rest;
            return Ok(u128::from(byte));
        }
        // Nearly every other one is at most eight bytes long (56 bits) with eight bytes to read:
        // decoded from one 64-bit word without a loop.
        if let Some(word) = self.bytes.first_chunk::<8>().map(|w| u64::from_le_bytes(*w))
            && let Some((value, len)) = varint_in_word(word)
        {
            self.bytes = &self.bytes[len..];
            return Ok(u128::from(value));
        }
        self.long_u128(field)
    }

    fn long_u128(&mut self, field: &'static str) -> Result<u128, BinaryError> {
        let mut value = 0u128;
        for shift in (0..128).step_by(7) {
            let byte = self.byte(field)?;
            value |= u128::from(byte & 0x7f).checked_shl(shift).ok_or_else(|| bad(field, "integer too large"))?;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(bad(field, "integer too large"))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, BinaryError> {
        u64::try_from(self.u128(field)?).map_err(|_| bad(field, "integer too large"))
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, BinaryError> {
        let zigzag = self.u64(field)?;
        Ok((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64))
    }

    fn decimal(&mut self, field: &'static str) -> Result<Decimal, BinaryError> {
        let head = self.byte(field)?;
        let scale = u32::from(head & SCALE_BITS);
        if scale > Decimal::MAX_SCALE {
            return Err(bad(field, "not a decimal (scale or size)"));
        }
        let negative = head & NEGATIVE != 0;
        if head & WIDE == 0 {
            let low = u64::from_le_bytes(*self.array::<8>(field)?);
            return Ok(Decimal::from_parts(low as u32, (low >> 32) as u32, 0, negative, scale));
        }
        let words = self.array::<12>(field)?;
        let word = |i: usize| u32::from_le_bytes([words[i], words[i + 1], words[i + 2], words[i + 3]]);
        Ok(Decimal::from_parts(word(0), word(4), word(8), negative, scale))
    }

    /// One side of a book, into `side` (emptied first).
    fn levels(&mut self, side: &mut Vec<PriceLevel>, field: &'static str) -> Result<(), BinaryError> {
        let count = self.u64(field)?;
        // Each level takes at least eighteen bytes (two decimals): the count cannot claim more than
        // the record holds.
        if count > (self.bytes.len() / 18) as u64 {
            return Err(bad(field, "more levels than the record holds"));
        }
        side.clear();
        side.reserve(count as usize);
        for _ in 0..count {
            side.push(PriceLevel { price: self.decimal(field)?, size: self.decimal(field)? });
        }
        Ok(())
    }
}

/// The varint at the start of `word` (eight bytes, little-endian) and its length, when it ends
/// within them. Each byte gives its low seven bits, least significant first; the groups are
/// packed together pairwise, then in fours, then in eights.
fn varint_in_word(word: u64) -> Option<(u64, usize)> {
    let ends = !word & 0x8080_8080_8080_8080;
    if ends == 0 {
        return None;
    }
    let len = (ends.trailing_zeros() / 8 + 1) as usize;
    let bits = if len == 8 { u64::MAX } else { (1u64 << (8 * len)) - 1 };
    let mut value = word & bits & 0x7f7f_7f7f_7f7f_7f7f;
    value = (value & 0x007f_007f_007f_007f) | ((value & 0x7f00_7f00_7f00_7f00) >> 1);
    value = (value & 0x0000_3fff_0000_3fff) | ((value & 0x3fff_0000_3fff_0000) >> 2);
    value = (value & 0x0000_0000_0fff_ffff) | ((value & 0x0fff_ffff_0000_0000) >> 4);
    Some((value, len))
}

fn read_u64(input: &mut impl Read) -> Result<u64, BinaryError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let mut byte = [0u8; 1];
        if input.read(&mut byte)? == 0 {
            return Err(BinaryError::Truncated);
        }
        value |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(bad("record length", "integer too large"))
}

fn put_u128(out: &mut Vec<u8>, mut value: u128) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_u64(out: &mut Vec<u8>, value: u64) {
    put_u128(out, u128::from(value));
}

fn put_i64(out: &mut Vec<u8>, value: i64) {
    put_u64(out, ((value << 1) ^ (value >> 63)) as u64);
}

fn put_decimal(out: &mut Vec<u8>, value: Decimal) {
    let magnitude = value.mantissa().unsigned_abs();
    let sign = if value.is_sign_negative() { NEGATIVE } else { 0 };
    match u64::try_from(magnitude) {
        Ok(low) => {
            out.push(sign | value.scale() as u8);
            out.extend_from_slice(&low.to_le_bytes());
        }
        Err(_) => {
            out.push(sign | WIDE | value.scale() as u8);
            out.extend_from_slice(&magnitude.to_le_bytes()[..12]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(hash: &str) -> OrderBook {
        let json = format!(
            r#"{{"market":"0xm","asset_id":"123","timestamp":"1767607200001","hash":"{hash}",
            "bids":[{{"price":"0.48","size":"0"}},{{"price":"0.49","size":"12.5"}},{{"price":"0.500","size":"100"}}],
            "asks":[{{"price":"0.52","size":"7"}},{{"price":"0.51","size":"3"}}],
            "min_order_size":"5","tick_size":"0.001","neg_risk":true,"last_trade_price":"0.505"}}"#
        );
        OrderBook::from_json(&json).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A line to write: a book at its time, or a line kept as read.
    type Written = (i64, Result<OrderBook, Result<String, LineError>>);

    fn round_trip(lines: &[Written]) -> Vec<BinaryLine> {
        let header = BinaryHeader { flags: FLAG_TICKS, source_len: 7, source_mtime_ns: -3 };
        let mut writer = BinaryWriter::new(Vec::new(), header).unwrap_or_else(|e| panic!("{e}"));
        for (ts, line) in lines {
            match line {
                Ok(book) => writer.book(*ts, book),
                Err(text) => writer.text(text),
            }
            .unwrap_or_else(|e| panic!("{e}"));
        }
        let bytes = writer.finish().unwrap_or_else(|e| panic!("{e}"));
        let mut input = bytes.as_slice();
        assert_eq!(BinaryHeader::read(&mut input).unwrap_or_else(|e| panic!("{e}")), Some(header));
        let mut reader = BinaryReader::new(input);
        std::iter::from_fn(|| reader.next_line().unwrap_or_else(|e| panic!("{e}"))).collect()
    }

    #[test]
    fn books_and_lines_read_back_as_they_were_written() {
        let hex = "bb2d420f0f88080b10a3d6b2aa05e11ab2715945";
        let books = [book(hex), book("Not-Hex"), book("")];
        let mut lines: Vec<_> = books.iter().map(|b| (1_767_607_200_000, Ok(b.clone()))).collect();
        lines.push((0, Err(Ok(r#"{"ts":1,"type":"tick"}"#.to_owned()))));
        lines.push((0, Err(Err(LineError::NotUtf8))));
        lines.push((0, Err(Err(LineError::TooLong { len: 5_000_000 }))));
        let read = round_trip(&lines);
        assert_eq!(read.len(), 6, "string definitions are not lines");
        for (expected, line) in books.iter().zip(&read) {
            let BinaryLine::Book { ts, book } = line else { panic!("{line:?}") };
            assert_eq!(*ts, 1_767_607_200_000);
            let mut back = (**book).clone();
            crate::polymarket::settle_wire_book(&mut back).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&back, expected);
            assert_eq!(format!("{back:?}"), format!("{expected:?}"), "every decimal keeps its scale");
        }
        assert!(matches!(&read[3], BinaryLine::Text(Ok(t)) if t == r#"{"ts":1,"type":"tick"}"#));
        assert!(matches!(&read[4], BinaryLine::Text(Err(LineError::NotUtf8))));
        assert!(matches!(&read[5], BinaryLine::Text(Err(LineError::TooLong { len: 5_000_000 }))));
    }

    proptest::proptest! {
        /// A decimal reads back as the one written, scale and sign included, whether its mantissa
        /// takes the 64-bit path or the long one.
        #[test]
        fn a_decimal_reads_back_exactly(
            lo in proptest::prelude::any::<u32>(),
            mid in proptest::prelude::any::<u32>(),
            hi in proptest::prop_oneof![proptest::strategy::Just(0u32), proptest::prelude::any::<u32>()],
            negative in proptest::prelude::any::<bool>(),
            scale in 0u32..=28,
        ) {
            let value = Decimal::from_parts(lo, mid, hi, negative, scale);
            let mut bytes = Vec::new();
            put_decimal(&mut bytes, value);
            let read = Body::new(&bytes).decimal("x").unwrap_or_else(|e| panic!("{e}"));
            proptest::prop_assert_eq!(read, value);
            proptest::prop_assert_eq!(format!("{read:?}"), format!("{value:?}"));
        }
    }

    proptest::proptest! {
        /// Any integer reads back as written, at any length, with any bytes after it and near
        /// the end of a record (where the one-word path has no eight bytes to read).
        #[test]
        fn an_integer_reads_back_exactly(
            value in proptest::prop_oneof![0u128..128, 0u128..(1 << 56), proptest::prelude::any::<u128>()],
            after in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..10),
        ) {
            let mut bytes = Vec::new();
            put_u128(&mut bytes, value);
            let len = bytes.len();
            bytes.extend_from_slice(&after);
            let mut body = Body::new(&bytes);
            proptest::prop_assert_eq!(body.u128("x").unwrap_or_else(|e| panic!("{e}")), value);
            proptest::prop_assert_eq!(body.bytes.len(), bytes.len() - len);
        }
    }

    #[test]
    fn a_scale_a_decimal_cannot_have_or_a_cut_magnitude_is_a_bad_record_at_either_width() {
        for (head, magnitude_bytes) in [(29, 8), (SCALE_BITS, 8), (WIDE | 29, 12), (NEGATIVE | WIDE | SCALE_BITS, 12)] {
            let mut bytes = vec![head];
            bytes.extend_from_slice(&[5; 12][..magnitude_bytes]);
            let err = Body::new(&bytes).decimal("price").map(|d| d.to_string());
            assert!(matches!(&err, Err(e) if e.to_string().contains("price")), "{head:#x}: {err:?}");
        }
        for (head, magnitude_bytes) in [(3, 7), (WIDE | 3, 11), (WIDE | 3, 8)] {
            let mut bytes = vec![head];
            bytes.extend_from_slice(&[5; 12][..magnitude_bytes]);
            let err = Body::new(&bytes).decimal("price").map(|d| d.to_string());
            assert!(matches!(&err, Err(e) if e.to_string().contains("price")), "{head:#x} cut: {err:?}");
        }
    }

    #[test]
    fn a_damaged_record_is_one_bad_line_and_the_next_is_read() {
        let mut writer = BinaryWriter::new(Vec::new(), BinaryHeader::default()).unwrap_or_else(|e| panic!("{e}"));
        writer.book(5, &book("")).unwrap_or_else(|e| panic!("{e}"));
        writer.text(&Ok("after".to_owned())).unwrap_or_else(|e| panic!("{e}"));
        let mut bytes = writer.finish().unwrap_or_else(|e| panic!("{e}"));
        // The head of the book's last decimal (the last ask's size, eight bytes from the end of
        // the body) gets a scale no decimal has.
        let book_end = bytes.len() - (1 + 1 + "after".len()) - 1;
        bytes[book_end - 8] = SCALE_BITS;
        let mut input = &bytes[BinaryHeader::LEN..];
        let mut reader = BinaryReader::new(&mut input);
        assert!(matches!(reader.next_line(), Ok(Some(BinaryLine::Bad(BinaryError::BadRecord { .. })))));
        assert!(matches!(reader.next_line(), Ok(Some(BinaryLine::Text(Ok(t)))) if t == "after"));
        assert!(matches!(reader.next_line(), Ok(None)));
    }

    #[test]
    fn a_cut_file_an_oversized_record_and_another_version_are_errors() {
        let mut writer = BinaryWriter::new(Vec::new(), BinaryHeader::default()).unwrap_or_else(|e| panic!("{e}"));
        writer.text(&Ok("a line".to_owned())).unwrap_or_else(|e| panic!("{e}"));
        let bytes = writer.finish().unwrap_or_else(|e| panic!("{e}"));
        let mut cut = &bytes[BinaryHeader::LEN..bytes.len() - 1];
        assert!(matches!(BinaryReader::new(&mut cut).next_line(), Err(BinaryError::Truncated)));
        let mut huge = vec![TEXT];
        put_u64(&mut huge, MAX_LINE_BYTES as u64 + 1);
        assert!(matches!(BinaryReader::new(huge.as_slice()).next_line(), Err(BinaryError::RecordTooLong { .. })));
        let mut other = bytes.clone();
        other[MAGIC.len()] = VERSION + 1;
        assert!(matches!(BinaryHeader::read(&mut other.as_slice()), Err(BinaryError::Version(_))));
        assert_eq!(BinaryHeader::read(&mut &b"{\"ts\":1}"[..]).unwrap_or_else(|e| panic!("{e}")), None);
    }

    #[test]
    fn a_string_used_before_it_is_defined_is_a_bad_line() {
        let mut body = 1i64.to_le_bytes().to_vec();
        put_u64(&mut body, 0);
        let mut record = vec![BOOK];
        put_u64(&mut record, body.len() as u64);
        record.extend_from_slice(&body);
        let line = BinaryReader::new(record.as_slice()).next_line().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(line, Some(BinaryLine::Bad(BinaryError::BadRecord { field: "string index", .. }))),
            "{line:?}"
        );
    }
}
