//! Figures as a person reads them: thousands separators, no trailing zeros, signs where a move
//! is meant. Decimal in, text out; never a float.

use rust_decimal::Decimal;

/// `42200` → `42,200`; `0.5120` → `0.512`; `-1234.5` → `-1,234.5`.
pub fn grouped(value: Decimal) -> String {
    let text = value.normalize().abs().to_string();
    let (int, frac) = match text.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (text.as_str(), None),
    };
    let mut out = String::with_capacity(text.len() + text.len() / 3 + 1);
    if value.is_sign_negative() && !value.is_zero() {
        out.push('-');
    }
    for (i, digit) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if let Some(frac) = frac {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// A price: `$42,200`, `$0.5123`.
pub fn price(value: Decimal) -> String {
    let text = grouped(value);
    match text.strip_prefix('-') {
        Some(rest) => format!("-${rest}"),
        None => format!("${text}"),
    }
}

/// Money to the cent: `$9,377.78`, `$100.00`.
pub fn money(value: Decimal) -> String {
    let rounded = value.round_dp(2);
    let whole = grouped(rounded.trunc());
    let cents = format!("{:.2}", rounded.abs().fract());
    let cents = cents.trim_start_matches('0');
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() && !whole.starts_with('-') { "-" } else { "" };
    match whole.strip_prefix('-') {
        Some(rest) => format!("-${rest}{cents}"),
        None => format!("{sign}${whole}{cents}"),
    }
}

/// A signed move in percent to two places: `+1.42%`, `-1.07%`, `0%`.
pub fn signed_percent(value: Decimal) -> String {
    let rounded = value.round_dp(2).normalize();
    if rounded.is_zero() {
        "0%".to_string()
    } else if rounded.is_sign_positive() {
        format!("+{rounded}%")
    } else {
        format!("{rounded}%")
    }
}

/// A plain number without float noise or trailing zeros: `92.3`, `1`, `0.22222222`.
pub fn plain(value: Decimal) -> String {
    value.normalize().to_string()
}

/// `price` moved to `to`, in percent of `from` (0 when `from` is zero, which validation refuses).
pub fn percent_move(from: Decimal, to: Decimal) -> Decimal {
    if from.is_zero() { Decimal::ZERO } else { ((to - from) / from * Decimal::ONE_HUNDRED).round_dp(2) }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn thousands_are_grouped_without_float_noise() {
        assert_eq!(grouped(dec!(42200)), "42,200");
        assert_eq!(grouped(dec!(1234567.8900)), "1,234,567.89");
        assert_eq!(grouped(dec!(999)), "999");
        assert_eq!(grouped(dec!(-1000.5)), "-1,000.5");
        assert_eq!(grouped(dec!(0.10)), "0.1");
        assert_eq!(price(dec!(41750.00)), "$41,750");
        assert_eq!(price(dec!(-5)), "-$5");
    }

    #[test]
    fn money_keeps_the_cents() {
        assert_eq!(money(dec!(9377.777)), "$9,377.78");
        assert_eq!(money(dec!(100)), "$100.00");
        assert_eq!(money(dec!(-1234.5)), "-$1,234.50");
        assert_eq!(money(dec!(-0.5)), "-$0.50");
        assert_eq!(money(dec!(0)), "$0.00");
    }

    #[test]
    fn moves_carry_their_sign() {
        assert_eq!(signed_percent(percent_move(dec!(42200), dec!(41750))), "-1.07%");
        assert_eq!(signed_percent(percent_move(dec!(42200), dec!(42800))), "+1.42%");
        assert_eq!(signed_percent(dec!(0)), "0%");
        assert_eq!(plain(dec!(92.30)), "92.3");
    }
}
