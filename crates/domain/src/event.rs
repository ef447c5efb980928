//! The kinds of change a console cares about. Each is one row of the event log and one Socket.IO event
//! whose name is [`EventKind::as_str`] (the seed's snake_case names).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A bot registered (came online) for an account.
    BotRegister,
    /// Messages arrived; carries only the ones that were new.
    NewMessages,
    /// Notifications arrived; carries only the ones that were new.
    NewNotifications,
    /// A bot reported its status (online, offline, needs_login, …), or connected to / left the sender.
    BotStatus,
    /// An outgoing message changed status: queued, sent (with the platform id) or failed (with a reason).
    MessageStatusUpdate,
    /// A post changed status: queued, posted (with its id and link) or failed (with a reason).
    PostStatusUpdate,
    /// An agent read a conversation; its unread count is now 0.
    ConversationRead,
    /// A call rings at an agent's console (the seed's call-center payload).
    IncomingCallToCrm,
    /// A call was answered; every console hides its popup.
    CallAnswered,
    /// A call ended (hung up, rejected, or missed).
    CallEnded,
    /// An agent's status changed (available, busy, away, offline).
    AgentStatusUpdate,
    /// A conversation's assignee, status or labels changed (by a person, a reply, a snooze's end).
    ConversationUpdated,
    /// A private note was left on a conversation; it names the users it mentions.
    NoteAdded,
    /// The labels an admin defines were created, renamed, recoloured or deleted.
    LabelsChanged,
    /// Who may see an account, or who is in a team, changed: streams read their view again.
    AccessChanged,
    /// Customers were merged into one: consoles showing a merged one open the survivor.
    CustomersMerged,
    /// A callback task was opened (a missed call), joined by another missed call, or closed.
    CallbackUpdated,
    /// A command to the phone system was stored, delivered, or given up (with the phone system's answer).
    PhoneCommandUpdated,
}

impl EventKind {
    pub const ALL: [EventKind; 18] = [
        Self::BotRegister,
        Self::NewMessages,
        Self::NewNotifications,
        Self::BotStatus,
        Self::MessageStatusUpdate,
        Self::PostStatusUpdate,
        Self::ConversationRead,
        Self::IncomingCallToCrm,
        Self::CallAnswered,
        Self::CallEnded,
        Self::AgentStatusUpdate,
        Self::ConversationUpdated,
        Self::NoteAdded,
        Self::LabelsChanged,
        Self::AccessChanged,
        Self::CustomersMerged,
        Self::CallbackUpdated,
        Self::PhoneCommandUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BotRegister => "bot_register",
            Self::NewMessages => "new_messages",
            Self::NewNotifications => "new_notifications",
            Self::BotStatus => "bot_status",
            Self::MessageStatusUpdate => "message_status_update",
            Self::PostStatusUpdate => "post_status_update",
            Self::ConversationRead => "conversation_read",
            Self::IncomingCallToCrm => "incoming_call_to_crm",
            Self::CallAnswered => "call_answered",
            Self::CallEnded => "call_ended",
            Self::AgentStatusUpdate => "agent_status_update",
            Self::ConversationUpdated => "conversation_updated",
            Self::NoteAdded => "note_added",
            Self::LabelsChanged => "labels_changed",
            Self::AccessChanged => "access_changed",
            Self::CustomersMerged => "customers_merged",
            Self::CallbackUpdated => "callback_updated",
            Self::PhoneCommandUpdated => "phone_command_updated",
        }
    }

    /// The team's own work (ownership, states, notes, labels): for people, never for an account's bot.
    pub fn is_teamwork(self) -> bool {
        matches!(
            self,
            Self::ConversationUpdated
                | Self::NoteAdded
                | Self::LabelsChanged
                | Self::AccessChanged
                | Self::CustomersMerged
        )
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::Value::from(kind.as_str()))
            );
        }
        assert_eq!(EventKind::parse("nope"), None);
    }
}
