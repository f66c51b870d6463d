//! Binance's refusals: an error answer is `{"code": -2010, "msg": "…"}` with an HTTP 4xx status;
//! the code says the cause (the message too, for -2010, which Binance uses for several), and the
//! message is kept for the audit trail with any secret cut out.

use super::super::error::RefusalReason;

/// The request's timestamp is outside `recvWindow` (resync and try once more).
pub const TIMESTAMP_OUTSIDE_RECV_WINDOW: i64 = -1021;
/// Cancelling an order the venue no longer has working (filled, cancelled, unknown).
pub const UNKNOWN_ORDER_SENT: i64 = -2011;

/// What an error code (and, for the codes Binance reuses, its message) means.
pub fn reason(code: i64, message: &str) -> RefusalReason {
    let lower = message.to_ascii_lowercase();
    match code {
        -1021 => RefusalReason::TimestampOutsideRecvWindow,
        -1022 => RefusalReason::InvalidSignature,
        -2014 | -2015 | -1002 | -2008 => RefusalReason::Unauthorized,
        -1003 | -1015 => RefusalReason::RateLimited,
        -2019 | -2018 => RefusalReason::InsufficientBalance,
        -2010 if lower.contains("insufficient") => RefusalReason::InsufficientBalance,
        // Symbol filters: price, quantity, notional, precision, tick and step (spot -1013, futures -4xxx).
        -1013 | -1111 | -4003 | -4004 | -4005 | -4013 | -4014 | -4023 | -4024 | -4028 | -4164 => {
            RefusalReason::FilterFailure
        }
        -2013 | -2011 => RefusalReason::UnknownOrder,
        -2022 => RefusalReason::ReduceOnlyRejected,
        -1121 => RefusalReason::SymbolUnavailable,
        _ => RefusalReason::Other,
    }
}

pub use super::super::json::cut_secrets as redact;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_codes_map_to_their_cause() {
        let cases = [
            (
                -1021,
                "Timestamp for this request is outside of the recvWindow.",
                RefusalReason::TimestampOutsideRecvWindow,
            ),
            (-1022, "Signature for this request is not valid.", RefusalReason::InvalidSignature),
            (-2015, "Invalid API-key, IP, or permissions for action.", RefusalReason::Unauthorized),
            (-2010, "Account has insufficient balance for requested action.", RefusalReason::InsufficientBalance),
            (-2010, "Duplicate order sent.", RefusalReason::Other),
            (-2019, "Margin is insufficient.", RefusalReason::InsufficientBalance),
            (-1013, "Filter failure: LOT_SIZE", RefusalReason::FilterFailure),
            (-4164, "Order's notional must be no smaller than 100", RefusalReason::FilterFailure),
            (-2013, "Order does not exist.", RefusalReason::UnknownOrder),
            (-2022, "ReduceOnly Order is rejected.", RefusalReason::ReduceOnlyRejected),
            (-1121, "Invalid symbol.", RefusalReason::SymbolUnavailable),
            (-1003, "Too many requests.", RefusalReason::RateLimited),
        ];
        for (code, message, want) in cases {
            assert_eq!(reason(code, message), want, "{code} {message}");
        }
    }
}
