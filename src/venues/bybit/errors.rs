//! Bybit's refusals: every v5 answer carries `retCode` (0 = ok) and `retMsg`, whatever its HTTP
//! status; the code says the cause, the message is kept for the audit trail (with the key and
//! anything signed cut out: a signature error echoes the signed string, key included).

use super::super::error::RefusalReason;

/// The request's timestamp is outside `recv_window` (resync and try once more).
pub const TIMESTAMP_OUTSIDE_RECV_WINDOW: i64 = 10002;
/// Too many visits: the per-UID limit of the endpoint is used up until the reset timestamp.
pub const TOO_MANY_VISITS: i64 = 10006;
/// Too many visits from this IP.
pub const TOO_MANY_VISITS_IP: i64 = 10018;
/// The leverage asked for is the one set already: not a failure.
pub const LEVERAGE_NOT_MODIFIED: i64 = 110043;

/// What a `retCode` means.
pub fn reason(code: i64) -> RefusalReason {
    match code {
        110004 | 110007 | 110012 | 110045 | 110052 | 170033 | 170131 | 170132 => RefusalReason::InsufficientBalance,
        // Price, quantity, notional and precision checks of a symbol.
        110003 | 110009 | 110020 | 110094 | 170134 | 170135 | 170136 | 170137 | 170140 => RefusalReason::FilterFailure,
        10004 => RefusalReason::InvalidSignature,
        10003 | 10005 | 10007 | 10009 | 10010 | 33004 | -2015 => RefusalReason::Unauthorized,
        TIMESTAMP_OUTSIDE_RECV_WINDOW => RefusalReason::TimestampOutsideRecvWindow,
        TOO_MANY_VISITS | TOO_MANY_VISITS_IP | 10429 => RefusalReason::RateLimited,
        110001 | 170213 => RefusalReason::UnknownOrder,
        110017 => RefusalReason::ReduceOnlyRejected,
        170121 | 10029 => RefusalReason::SymbolUnavailable,
        _ => RefusalReason::Other,
    }
}

/// `message` with every secret cut out, and any echoed signed string (`origin_string[…]`, which
/// holds the key and the signed payload) replaced.
pub fn redact(message: &str, secrets: &[&str]) -> String {
    let mut out = message.to_owned();
    if let Some(start) = out.find("origin_string[") {
        let tail = &out[start..];
        let end = tail.find(']').map_or(out.len(), |i| start + i + 1);
        out.replace_range(start..end, "origin_string[…]");
    }
    super::super::json::cut_secrets(&out, secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_codes_map_to_their_cause() {
        let cases = [
            (110007, RefusalReason::InsufficientBalance),
            (170131, RefusalReason::InsufficientBalance),
            (110003, RefusalReason::FilterFailure),
            (170136, RefusalReason::FilterFailure),
            (170137, RefusalReason::FilterFailure),
            (110094, RefusalReason::FilterFailure),
            (10004, RefusalReason::InvalidSignature),
            (10003, RefusalReason::Unauthorized),
            (10005, RefusalReason::Unauthorized),
            (10002, RefusalReason::TimestampOutsideRecvWindow),
            (10006, RefusalReason::RateLimited),
            (110001, RefusalReason::UnknownOrder),
            (170213, RefusalReason::UnknownOrder),
            (110017, RefusalReason::ReduceOnlyRejected),
            (110072, RefusalReason::Other),
        ];
        for (code, want) in cases {
            assert_eq!(reason(code), want, "retCode {code}");
        }
    }

    #[test]
    fn echoed_signed_strings_and_secrets_are_cut_out() {
        let message = "error sign! origin_string[1672211928338KEY1235000category=linear]";
        assert_eq!(redact(message, &["KEY123"]), "error sign! origin_string[…]");
        assert_eq!(redact("bad key KEY123 here", &["KEY123", ""]), "bad key … here");
    }
}
