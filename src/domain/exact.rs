//! Exact decimal comparisons for the pre-trade check's rules. `Decimal`'s own `Ord` is a call of
//! about 70 instructions that rescales through 32-bit limbs whenever the scales differ (a configured
//! `10000` against a notional of `5.00`), and the approve path compares a dozen times. Here the two
//! mantissas are brought to one scale in `i128`, one multiplication, and compared; the rare pair
//! whose rescaled mantissa would not fit in `i128` falls back to `Decimal`'s `Ord`. The answers are
//! exactly `Decimal`'s (the tests check it), only cheaper.

use std::cmp::Ordering;

use rust_decimal::Decimal;

/// `10^scale` for every scale a `Decimal` can have (0 to 28).
const POWERS_OF_TEN: [i128; 29] = {
    let mut powers = [1i128; 29];
    let mut i = 1;
    while i < 29 {
        powers[i] = powers[i - 1] * 10;
        i += 1;
    }
    powers
};

/// `a.cmp(&b)`. A decimal is `mantissa / 10^scale`, so with `a`'s scale below `b`'s,
/// `a ⋛ b` ⇔ `a.mantissa × 10^(b.scale − a.scale) ⋛ b.mantissa`.
// Called several times on every price; left out of line it was an eighth of a replay.
#[inline(always)]
pub fn cmp(a: Decimal, b: Decimal) -> Ordering {
    let (ma, sa) = (a.mantissa(), a.scale());
    let (mb, sb) = (b.mantissa(), b.scale());
    if sa == sb {
        return ma.cmp(&mb);
    }
    let rescaled = if sa < sb {
        times_power_of_ten(ma, sb - sa).map(|ma| ma.cmp(&mb))
    } else {
        times_power_of_ten(mb, sa - sb).map(|mb| ma.cmp(&mb))
    };
    rescaled.unwrap_or_else(|| a.cmp(&b))
}

/// `mantissa × 10^exponent`, `None` if it would overflow. A mantissa within 64 bits times a
/// power within 64 bits is one widening multiplication, below 2^127 (the general `i128`
/// multiplication is a library call).
#[inline]
fn times_power_of_ten(mantissa: i128, exponent: u32) -> Option<i128> {
    let power = POWERS_OF_TEN[exponent as usize];
    if let (Ok(small), Ok(power)) = (i64::try_from(mantissa), u64::try_from(power)) {
        let magnitude = (u128::from(small.unsigned_abs()) * u128::from(power)) as i128;
        return Some(if small < 0 { -magnitude } else { magnitude });
    }
    mantissa.checked_mul(power)
}

/// `a < b`
#[inline]
pub fn lt(a: Decimal, b: Decimal) -> bool {
    cmp(a, b) == Ordering::Less
}

/// `a <= b`
#[inline]
pub fn le(a: Decimal, b: Decimal) -> bool {
    cmp(a, b) != Ordering::Greater
}

/// `a > b`
#[inline]
pub fn gt(a: Decimal, b: Decimal) -> bool {
    cmp(a, b) == Ordering::Greater
}

/// `0 < value < 1`, with one integer comparison: a positive decimal is below 1 when its mantissa
/// is below `10^scale`.
#[inline]
pub fn inside_unit_interval(value: Decimal) -> bool {
    let mantissa = value.mantissa();
    mantissa > 0 && mantissa < POWERS_OF_TEN[value.scale() as usize]
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;

    fn edge_values() -> Vec<Decimal> {
        let mut values = vec![
            dec!(0),
            -Decimal::ZERO,
            Decimal::new(0, 7),
            dec!(1),
            dec!(1.0000),
            dec!(-1),
            dec!(0.5),
            dec!(0.50),
            dec!(-0.5),
            dec!(5.00),
            dec!(10000000),
            dec!(1000000000000),
            dec!(0.9999999999999999999999999999),
            dec!(0.0000000000000000000000000001),
            dec!(1.0000000000000000000000000001),
            dec!(7.9228162514264337593543950335),
            dec!(12),
            Decimal::MAX,
            Decimal::MIN,
            // Mantissas at the edge of 64 bits, against scales 19 apart (the widest power of
            // ten within 64 bits) and 20 apart (past it).
            Decimal::new(i64::MAX, 0),
            Decimal::new(i64::MIN, 0),
            Decimal::new(i64::MAX, 19),
            Decimal::new(i64::MIN, 20),
            Decimal::new(1, 19),
            Decimal::new(1, 20),
        ];
        values.extend(values.clone().into_iter().map(|v| -v));
        values
    }

    #[test]
    fn edge_values_compare_as_decimal_does() {
        let values = edge_values();
        for a in &values {
            assert_eq!(inside_unit_interval(*a), *a > Decimal::ZERO && *a < Decimal::ONE, "{a} (scale {})", a.scale());
            for b in &values {
                assert_eq!(cmp(*a, *b), a.cmp(b), "{a} vs {b}");
                assert_eq!((lt(*a, *b), le(*a, *b), gt(*a, *b)), (a < b, a <= b, a > b), "{a} vs {b}");
            }
        }
    }

    fn any_decimal() -> impl Strategy<Value = Decimal> {
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>(), 0u32..=28, 0u8..4).prop_map(
            |(lo, mid, hi, negative, scale, width)| {
                // Narrow mantissas too, so that equal values at different scales come up.
                let (mid, hi) = match width {
                    0 => (0, 0),
                    1 => (mid, 0),
                    2 => (mid, hi & 0xff),
                    _ => (mid, hi),
                };
                Decimal::from_parts(lo, mid, hi, negative, scale)
            },
        )
    }

    proptest! {
        #[test]
        fn random_values_compare_as_decimal_does(a in any_decimal(), b in any_decimal(), shift in 0u32..=28) {
            prop_assert_eq!(cmp(a, b), a.cmp(&b));
            // The same value written at a larger scale, where that fits.
            let mut wider = a;
            wider.rescale(shift.max(a.scale()));
            if wider == a {
                prop_assert_eq!(cmp(a, wider), Ordering::Equal);
                prop_assert_eq!(cmp(wider, b), a.cmp(&b));
            }
            prop_assert_eq!(inside_unit_interval(a), a > Decimal::ZERO && a < Decimal::ONE);
        }
    }
}
