//! The venue's hash of a book snapshot: carried from the feed to a recording, never decided on.
//!
//! The venue sends 40 lower-case hex digits. Those are held as their 20 bytes, which is how a
//! compact session stores them, so a replayed book gets its hash by a copy instead of by
//! writing and validating 40 characters of text (a few percent of a replay). Any other text is
//! kept as it came, so every hash reads back exactly as it was received.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A book's hash, as received (see the module doc). Equal hashes are equal values: the hex form is
/// chosen by the constructor, never by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookHash(Repr);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr {
    Hex([u8; 20]),
    Text(String),
}

impl Default for BookHash {
    fn default() -> Self {
        Self(Repr::Text(String::new()))
    }
}

impl BookHash {
    /// Makes this the hash whose hex digits are `bytes`: in place when it is held as bytes
    /// already, as it is in a book a decoder fills again and again.
    pub fn set_hex_bytes(&mut self, bytes: &[u8; 20]) {
        match &mut self.0 {
            Repr::Hex(held) => *held = *bytes,
            other => *other = Repr::Hex(*bytes),
        }
    }

    /// How the hash is held: what an encoding that stores the two forms apart writes.
    pub fn form(&self) -> HashForm<'_> {
        match &self.0 {
            Repr::Hex(bytes) => HashForm::Hex(bytes),
            Repr::Text(text) => HashForm::Text(text),
        }
    }
}

/// A [`BookHash`] as held: the 20 bytes of 40 lower-case hex digits, or any other text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashForm<'a> {
    Hex(&'a [u8; 20]),
    Text(&'a str),
}

impl From<String> for BookHash {
    fn from(text: String) -> Self {
        match hex20(&text) {
            Some(bytes) => Self(Repr::Hex(bytes)),
            None => Self(Repr::Text(text)),
        }
    }
}

impl std::fmt::Display for BookHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Repr::Hex(bytes) => bytes.iter().try_for_each(|b| write!(f, "{b:02x}")),
            Repr::Text(text) => f.write_str(text),
        }
    }
}

impl Serialize for BookHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BookHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

/// The 20 bytes of 40 lower-case hex digits (upper case is kept as text, so that it reads back the same).
fn hex20(text: &str) -> Option<[u8; 20]> {
    let digits = text.as_bytes();
    if digits.len() != 40 {
        return None;
    }
    let nibble = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    let mut bytes = [0u8; 20];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hash_reads_back_as_it_came_and_only_lower_case_hex_is_held_as_bytes() {
        let hex = "bb2d420f0f88080b10a3d6b2aa05e11ab2715945";
        for (text, as_bytes) in [
            (hex, true),
            ("BB2D420F0F88080B10A3D6B2AA05E11AB2715945", false),
            ("bb2d420f0f88080b10a3d6b2aa05e11ab271594", false),
            ("zz2d420f0f88080b10a3d6b2aa05e11ab2715945", false),
            ("", false),
            ("0xabc", false),
        ] {
            let hash = BookHash::from(text.to_owned());
            assert_eq!(hash.to_string(), text);
            assert_eq!(matches!(hash.form(), HashForm::Hex(_)), as_bytes, "{text}");
            assert_eq!(hash.form() == HashForm::Text(text), !as_bytes, "{text}");
            let json = serde_json::to_string(&hash).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<BookHash>(&json).ok(), Some(hash));
        }
        let HashForm::Hex(&bytes) = BookHash::from(hex.to_owned()).form() else { panic!("hex") };
        // Set over a hash held as text and over one held as other bytes: the same value either way.
        for mut held in [BookHash::from("0xabc".to_owned()), BookHash::from("0".repeat(40))] {
            held.set_hex_bytes(&bytes);
            assert_eq!(held, BookHash::from(hex.to_owned()));
        }
        assert_eq!(BookHash::default().to_string(), "");
    }
}
