//! The drivers a bot can run, behind one enum: the runtime does not care where data comes from.

use crate::page::PageDriver;
use crate::sim::SimDriver;
use crate::{BotError, Collector};
use switchboard_domain::comments::{
    ModerateCommentCommand, PrivateReplyCommand, ReplyCommentCommand,
};
use switchboard_domain::outbound::{PostCommand, SendMessageCommand};
use tokio::task::JoinSet;

#[derive(Clone)]
pub enum Driver {
    Sim(SimDriver),
    Page(PageDriver),
}

/// What became of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Executed {
    Sent {
        platform_id: String,
        link: Option<String>,
        /// Who it went to, when the platform chose (a private reply: the commenter's Messenger id).
        recipient_id: Option<String>,
    },
    Failed(String),
}

impl Driver {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sim(_) => "sim",
            Self::Page(_) => "page",
        }
    }

    /// Starts collecting; the driver's tasks join the runtime's set and stop with it.
    pub async fn start(
        &self,
        collector: Collector,
        tasks: &mut JoinSet<()>,
    ) -> Result<(), BotError> {
        match self {
            Self::Sim(sim) => sim.start(collector, tasks),
            Self::Page(page) => page.start(collector, tasks).await,
        }
    }

    pub async fn send_message(&self, command: &SendMessageCommand) -> Executed {
        match self {
            Self::Sim(sim) => sim.send_message(command).await,
            Self::Page(page) => page.send_message(command).await,
        }
    }

    pub async fn post(&self, command: &PostCommand) -> Executed {
        match self {
            Self::Sim(sim) => sim.post(command).await,
            Self::Page(page) => page.post(command).await,
        }
    }

    /// Answers a comment under it; `platform_id` is the answer's comment id.
    pub async fn reply_comment(&self, command: &ReplyCommentCommand) -> Executed {
        match self {
            Self::Sim(sim) => sim.reply_comment(command).await,
            Self::Page(page) => page.reply_comment(command).await,
        }
    }

    /// Answers a comment in Messenger; `recipient_id` is the commenter's Messenger id.
    pub async fn private_reply(&self, command: &PrivateReplyCommand) -> Executed {
        match self {
            Self::Sim(sim) => sim.private_reply(command).await,
            Self::Page(page) => page.private_reply(command).await,
        }
    }

    /// Hides, shows again or deletes a comment; `platform_id` is the comment's id.
    pub async fn moderate_comment(&self, command: &ModerateCommentCommand) -> Executed {
        match self {
            Self::Sim(sim) => sim.moderate_comment(command).await,
            Self::Page(page) => page.moderate_comment(command).await,
        }
    }
}
