//! The fuzz harness checks itself: its generators produce what the targets rely on.

mod support;

use proptest::prelude::*;

proptest! {
    #![proptest_config(support::fuzz::config())]

    #[test]
    fn mutated_objects_keep_every_other_field(value in support::fuzz::mutated_object(
        serde_json::json!({ "price": "0.5", "size": "10", "side": "BUY" }),
        &["price", "size", "side"],
    )) {
        let object = value.as_object().expect("an object stays an object");
        prop_assert!(object.len() >= 2 && object.len() <= 3);
    }
}
