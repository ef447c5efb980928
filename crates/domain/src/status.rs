//! The states things move through (a message, a post, a command to a bot, a call), each an enum with
//! the one name it has in storage and on the wire.

/// A name that is none of an enum's names (from storage, a request, a configuration file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{found}`")]
pub struct UnknownName {
    pub kind: &'static str,
    /// What was given, cut to 64 characters.
    pub found: String,
}

/// An enum whose variants each have one name, used in storage and on the wire alike: `as_str`,
/// `parse`, `FromStr`, `Display`, serde, and `ALL`, written once.
#[macro_export]
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $($(#[$variant_meta])* #[serde(rename = $text)] $variant),+
        }

        /// A string, one of the variants' names (the derive cannot read a name given by a macro).
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::status::UnknownName;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text).ok_or_else(|| $crate::status::UnknownName {
                    kind: stringify!($name),
                    found: text.chars().take(64).collect(),
                })
            }
        }

        /// Compared with its name, as clients and tests see it.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum! {
    /// Where a message stands: received from a customer, or on its way out through a bot.
    pub enum MessageStatus {
        Received = "received",
        Queued = "queued",
        Sent = "sent",
        Failed = "failed",
    }
}

named_enum! {
    /// Where a post to a page's feed stands.
    pub enum PostStatus {
        Queued = "queued",
        Posted = "posted",
        Failed = "failed",
    }
}

named_enum! {
    /// A command to a bot: stored, handed to the bot, acknowledged, then done or failed for good.
    pub enum CommandStatus {
        Pending = "pending",
        Delivered = "delivered",
        Acknowledged = "acknowledged",
        Done = "done",
        Failed = "failed",
    }
}

impl CommandStatus {
    /// Done or failed: the bot's outcome is recorded and the command is never handed out again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Failed)
    }
}

named_enum! {
    /// What a command asks a bot to do.
    pub enum CommandKind {
        SendMessage = "send_message",
        PostNewsFeed = "post_news_feed",
        ReplyComment = "reply_comment",
        ModerateComment = "moderate_comment",
        PrivateReply = "private_reply",
    }
}

impl CommandKind {
    /// The Socket.IO event that carries this command to a bot.
    pub fn event(self) -> &'static str {
        match self {
            Self::SendMessage => "send_message_command",
            Self::PostNewsFeed => "post_news_feed_command",
            Self::ReplyComment => "reply_comment_command",
            Self::ModerateComment => "moderate_comment_command",
            Self::PrivateReply => "private_reply_command",
        }
    }
}

named_enum! {
    /// A call: waiting in its queue, ringing an agent, connected to one, or over.
    pub enum CallStatus {
        Queued = "queued",
        Ringing = "ringing",
        Connected = "connected",
        Ended = "ended",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for status in CallStatus::ALL {
            assert_eq!(status.as_str().parse::<CallStatus>(), Ok(*status));
            assert_eq!(
                serde_json::to_string(status).ok(),
                Some(format!("\"{status}\""))
            );
        }
        assert_eq!(
            "on_hold".parse::<CallStatus>(),
            Err(UnknownName {
                kind: "CallStatus",
                found: "on_hold".into()
            })
        );
        assert_eq!(MessageStatus::parse("sent"), Some(MessageStatus::Sent));
        assert!(CommandStatus::Failed.is_final() && !CommandStatus::Delivered.is_final());
    }
}
