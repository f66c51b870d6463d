//! The daemon's side of trade plans: the inbox directory watched for plan files, and the batch
//! summary sent on a schedule and on demand. Plans from the API take the control path directly.

mod inbox;
mod summary;


pub use inbox::{Inbox, InboxError, watch_inbox};
pub use summary::{Summaries, SummaryError};

