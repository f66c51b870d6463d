//! The daemon's side of trade plans: the inbox directory watched for plan files, and the batch
//! summary sent on a schedule and on demand. Plans from the API take the control path directly.

mod inbox;
mod summary;

pub use inbox::{Inbox, InboxError, watch_inbox};
pub use summary::{Summaries, SummaryError};

use std::path::Path;
use std::time::Duration;

use crate::store::{SqliteStore, StoreError};
use crate::telemetry::SignalAnalytics;

/// Plan decisions read per page when the analytics are rebuilt at start.
const HISTORY_PAGE: usize = 10_000;

/// The signal analytics of every plan the store has decided and closed: what a restart starts
/// counting from, so that `/metrics` and `signals stats` cover the whole history.
pub fn analytics_from_store(path: &Path, timeout: Duration) -> Result<SignalAnalytics, StoreError> {
    let store = SqliteStore::open_read_only(path, timeout)?;
    let mut analytics = SignalAnalytics::new();
    let mut after = 0;
    loop {
        let (page, last) = store.plan_decisions_page(after, HISTORY_PAGE)?;
        page.iter().for_each(|d| analytics.record_decision(d));
        if last == after {
            break;
        }
        after = last;
    }
    store.plan_closes()?.iter().for_each(|c| analytics.record_close(c));
    Ok(analytics)
}
