//! The bot's one error type. The fatal ones end the process with one clear line.

use serde_json::Value;
use switchboard_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(
        "the bot token is unknown or revoked, or its account is disabled: enable the account, or make a new token with `switchboard bots add ACCOUNT` and pass it with --token"
    )]
    BadToken,
    #[error("this token may not act for the account: {0}")]
    Forbidden(String),
    #[error(
        "unknown account `{0}`: add it first (`switchboard accounts import user_accounts.json`, or Admin → Accounts in the console)"
    )]
    UnknownAccount(String),
    #[error("the account `{0}` is disabled in the CRM; enable it to run its bot")]
    AccountDisabled(String),
    #[error("the bot's spool: {0}")]
    Spool(#[from] StorageError),
    #[error("{0}")]
    Setup(String),
    /// The CRM answered something to retry later (a 5xx, a 429, a 404 from a server still starting).
    #[error("the CRM answered {status}: {message}")]
    Retry { status: u16, message: String },
    /// The CRM refused data as invalid; retrying it unchanged cannot help.
    #[error("the receiver refused the data: {message}")]
    Refused {
        message: String,
        /// Index of the offending item in the batch, when the receiver named one.
        item: Option<usize>,
    },
}

impl BotError {
    /// Whether waiting and trying again can help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retry { .. })
    }
}

/// Reads a CRM error answer (`{"success": false, "error": {code, message, item?}}`).
pub(crate) fn from_answer(status: u16, body: &Value) -> BotError {
    let error = &body["error"];
    let code = error["code"].as_str().unwrap_or("");
    let message = error["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("HTTP {status}"));
    match (status, code) {
        (401, _) => BotError::BadToken,
        (403, "account_disabled") => BotError::AccountDisabled(message),
        (403, _) => BotError::Forbidden(message),
        (_, "unknown_account") => BotError::UnknownAccount(message),
        // A server still starting, overloaded or unreachable: wait and send the same again.
        (0 | 408 | 429, _) | (500.., _) => BotError::Retry { status, message },
        // Any other 4xx (invalid, too large, not accepted) will answer the same to the same request.
        _ => BotError::Refused {
            message,
            item: error["item"].as_u64().map(|i| i as usize),
        },
    }
}
