//! Telegram two-way control: the bot long-polls `getUpdates`, obeys commands from the configured
//! chats (`alerts.telegram.chat_id` and `allowed_chat_ids`) and answers with `sendMessage`.
//!
//! | file | job |
//! | --- | --- |
//! | `command.rs` | the commands, their parsing and bounds, the help text, the kill confirmation (pure) |
//! | `bot_api.rs` | `getUpdates` / `sendMessage` on `alerts.telegram.api_base`, bounded answers |
//! | `task.rs` | the loop: poll, confirm, filter chats, audit, execute, answer (paced, split) |
//!
//! Control commands (`/halt`, `/resume`, `/kill confirm`, `/close`) go to the engine through
//! [`crate::api::send_control`], the control API's own path, audited with `who = telegram:…<last four digits of the chat id>`.

mod bot_api;
mod command;
mod task;

pub use bot_api::{BotApi, BotError, Polled, Update};
pub use command::{ChatCommand, HELP, KillConfirmations, MAX_COMMAND_CHARS, ParseError, parse};
pub use task::{Backend, ChatCounters, chat_control, counters};
