//! Typed ids: a conversation's id cannot be passed where an agent's is meant. Each is its number (or,
//! for calls, the phone system's text) on the wire: `serde(transparent)`, `Display` as the bare value,
//! and `FromStr` that takes only what a path segment may hold (a positive integer), refusing the rest
//! with the one message the API gives.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Text that is not an id of the kind asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an id")]
pub struct IdError {
    pub text: String,
}

macro_rules! integer_ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            utoipa::ToSchema,
        )]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(id: i64) -> Self {
                Self(id)
            }

            /// The number, for storage (which takes bare integers until it learns these types).
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, IdError> {
                positive(text).map(Self)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }
    )*};
}

integer_ids! {
    /// A Facebook conversation (a thread of one account with one person).
    ConversationId;
    /// A message of a conversation.
    MessageId;
    /// A post queued for an account's news feed.
    PostId;
    /// A call-center agent (not the console user they may be).
    AgentId;
    /// A call-center customer.
    CustomerId;
    /// A console user.
    UserId;
    /// An issued token (login session, API, bot or phone system).
    TokenId;
    /// A label admins define for conversations.
    LabelId;
    /// A canned response (a reply agents insert with `/shortcut`).
    CannedResponseId;
    /// A team of users, granted access to accounts together.
    TeamId;
    /// A file an agent uploaded to attach to a reply.
    AttachmentId;
    /// A field admins add to customers.
    CustomFieldId;
    /// A callback task (a missed call to return).
    CallbackId;
    /// An outcome code admins set for calls.
    OutcomeCodeId;
}

/// Ids are positive: `0`, negatives and anything not a number are refused alike.
fn positive(text: &str) -> Result<i64, IdError> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| IdError {
            text: text.to_owned(),
        })
}

/// A call, named by the phone system (`callId`): its text, whatever it is, as long as there is one.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
#[schema(example = "1733380000.123")]
pub struct CallId(String);

impl CallId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CallId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        if text.is_empty() {
            Err(IdError {
                text: String::new(),
            })
        } else {
            Ok(Self(text.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive_integers_and_their_own_text() {
        assert_eq!("17".parse::<ConversationId>(), Ok(ConversationId::new(17)));
        assert_eq!(AgentId::new(3).to_string(), "3");
        for bad in ["0", "-4", "abc", "1.5", ""] {
            let error = bad.parse::<CustomerId>().expect_err(bad);
            assert_eq!(error.to_string(), format!("`{bad}` is not an id"));
        }
        assert_eq!(
            serde_json::to_string(&MessageId::new(9)).expect("json"),
            "9"
        );
        assert_eq!(
            serde_json::from_str::<UserId>("12").expect("json"),
            UserId::new(12)
        );
        assert_eq!(
            "KEEP".parse::<CallId>().map(CallId::into_string),
            Ok("KEEP".to_owned())
        );
        assert!("".parse::<CallId>().is_err());
    }
}
