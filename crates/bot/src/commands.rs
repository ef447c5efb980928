//! The command side: a Socket.IO connection to the sender that receives commands, a worker that
//! executes them one at a time in the order they came, and a reporter that delivers outcomes.
//!
//! A command is stored in the spool before it is acknowledged, so after `command_ack` the bot alone is
//! responsible for it and a restart resumes it. It is started at most once: one found half-done at start
//! (the bot died mid-send) is reported failed with a warning instead of being sent again.

use crate::driver::{Driver, Executed};
use crate::{BotConfig, BotError};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_domain::comments::{
    ModerateCommentCommand, PrivateReplyCommand, ReplyCommentCommand,
};
use switchboard_domain::outbound::{PostCommand, SendMessageCommand};
use switchboard_sioclient::{Client, ClientError, Emitter};
use switchboard_storage::{CommandState, Spool, StoredCommand};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;

const SEND_EVENT: &str = "send_message_command";
const POST_EVENT: &str = "post_news_feed_command";
const REPLY_COMMENT_EVENT: &str = "reply_comment_command";
const MODERATE_COMMENT_EVENT: &str = "moderate_comment_command";
const PRIVATE_REPLY_EVENT: &str = "private_reply_command";
/// Every command a bot takes.
const COMMAND_EVENTS: [&str; 5] = [
    SEND_EVENT,
    POST_EVENT,
    REPLY_COMMENT_EVENT,
    MODERATE_COMMENT_EVENT,
    PRIVATE_REPLY_EVENT,
];
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
pub(crate) const INTERRUPTED: &str = "the bot stopped while carrying out this command and cannot tell \
whether Facebook received it; check the conversation on Facebook before retrying";

#[derive(Clone)]
struct Shared {
    config: Arc<BotConfig>,
    spool: Spool,
    driver: Driver,
    /// The live connection's sending half, when connected.
    connection: Arc<Mutex<Option<Emitter>>>,
    work: Arc<Notify>,
    report: Arc<Notify>,
}

impl Shared {
    fn emitter(&self) -> Option<Emitter> {
        crate::lock(&self.connection).clone()
    }

    fn set_emitter(&self, emitter: Option<Emitter>) {
        *crate::lock(&self.connection) = emitter;
    }
}

pub(crate) fn start(
    tasks: &mut JoinSet<()>,
    config: Arc<BotConfig>,
    spool: Spool,
    driver: Driver,
    fatal: mpsc::Sender<BotError>,
) {
    let shared = Shared {
        config,
        spool,
        driver,
        connection: Arc::default(),
        work: Arc::new(Notify::new()),
        report: Arc::new(Notify::new()),
    };
    let (connection, worker, reporter) = (shared.clone(), shared.clone(), shared);
    let worker_fatal = fatal.clone();
    tasks.spawn(async move {
        if let Err(error) = connect_loop(connection).await {
            let _ = fatal.send(error).await;
        }
    });
    tasks.spawn(async move {
        if let Err(error) = work(worker).await {
            let _ = worker_fatal.send(error).await;
        }
    });
    tasks.spawn(report(reporter));
}

async fn connect_loop(shared: Shared) -> Result<(), BotError> {
    let mut attempt = 0;
    loop {
        let auth = json!({"token": shared.config.token});
        let connecting = Client::connect(&shared.config.sender_url, &auth, "");
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .unwrap_or_else(|_| Err(ClientError::Transport("no answer in time".into())));
        match connected {
            Ok(mut client) => {
                attempt = 0;
                tracing::info!(account = %shared.config.account, sid = %client.sid, "connected to the sender");
                shared.set_emitter(Some(client.emitter()));
                shared.report.notify_one();
                while let Some(event) = client.next_event().await {
                    on_event(&shared, &client, event).await?;
                }
                shared.set_emitter(None);
                tracing::warn!(account = %shared.config.account, "lost the sender; reconnecting");
            }
            Err(ClientError::Refused(message)) => {
                if message.contains("unknown or revoked") {
                    return Err(BotError::BadToken);
                }
                if message.contains("disabled") {
                    return Err(BotError::AccountDisabled(message));
                }
                tracing::warn!(%message, "the sender refused the connection; retrying");
            }
            Err(error) => {
                if attempt == 0 {
                    tracing::warn!(%error, "cannot reach the sender; retrying");
                }
            }
        }
        tokio::time::sleep(shared.config.backoff.delay(attempt)).await;
        attempt += 1;
    }
}

async fn on_event(
    shared: &Shared,
    client: &Client,
    event: switchboard_sioclient::Event,
) -> Result<(), BotError> {
    if event.name == "error" {
        tracing::warn!(raw = event.raw(), "the sender reported an error");
        return Ok(());
    }
    if !COMMAND_EVENTS.contains(&event.name.as_str()) {
        tracing::debug!(name = %event.name, "ignoring an event");
        return Ok(());
    }
    let payload: Value = match event.data() {
        Ok(payload) => payload,
        Err(error) => {
            tracing::warn!(%error, "unreadable command");
            return Ok(());
        }
    };
    let Some(command_id) = payload["command_id"].as_str().map(str::to_owned) else {
        tracing::warn!(name = %event.name, "a command without a command_id");
        return Ok(());
    };
    let stored = shared
        .spool
        .receive_command(command_id.clone(), event.name.clone(), payload.to_string())
        .await?;
    // Stored: the sender may forget it now.
    let _ = client.emit("command_ack", &json!({"command_id": command_id}));
    match stored.state {
        CommandState::Received => shared.work.notify_one(),
        CommandState::Executing => {}
        CommandState::Finished { event, body, .. } => {
            // The sender did not get the outcome (it would not have sent the command again): repeat it.
            tracing::info!(%command_id, "a command came again; repeating its outcome, not executing it");
            if let Ok(body) = serde_json::from_str::<Value>(&body) {
                let _ = client.emit(&event, &body);
            }
        }
    }
    Ok(())
}

async fn work(shared: Shared) -> Result<(), BotError> {
    for interrupted in shared.spool.commands_in("executing").await? {
        tracing::warn!(command_id = %interrupted.command_id, "a command was cut short by a stop; reporting it failed");
        let (event, body) = outcome_of(&interrupted, Executed::Failed(INTERRUPTED.into()));
        shared
            .spool
            .finish_command(&interrupted.command_id, event, body.to_string())
            .await?;
    }
    shared.report.notify_one();
    loop {
        let waiting = shared.spool.commands_in("received").await?;
        if waiting.is_empty() {
            shared.work.notified().await;
            continue;
        }
        for command in waiting {
            if !shared.spool.start_command(&command.command_id).await? {
                continue;
            }
            let executed = execute(&shared.driver, &command).await;
            match &executed {
                Executed::Sent { platform_id, .. } => {
                    tracing::info!(command_id = %command.command_id, %platform_id, "command done")
                }
                Executed::Failed(reason) => {
                    tracing::warn!(command_id = %command.command_id, %reason, "command failed")
                }
            }
            let (event, body) = outcome_of(&command, executed);
            shared
                .spool
                .finish_command(&command.command_id, event, body.to_string())
                .await?;
            shared.report.notify_one();
        }
    }
}

async fn execute(driver: &Driver, command: &StoredCommand) -> Executed {
    let unreadable = |e: serde_json::Error| {
        Executed::Failed(format!("the bot could not read this command: {e}"))
    };
    match command.event.as_str() {
        POST_EVENT => match serde_json::from_str::<PostCommand>(&command.payload) {
            Ok(post) => driver.post(&post).await,
            Err(e) => unreadable(e),
        },
        REPLY_COMMENT_EVENT => {
            match serde_json::from_str::<ReplyCommentCommand>(&command.payload) {
                Ok(reply) => driver.reply_comment(&reply).await,
                Err(e) => unreadable(e),
            }
        }
        PRIVATE_REPLY_EVENT => {
            match serde_json::from_str::<PrivateReplyCommand>(&command.payload) {
                Ok(reply) => driver.private_reply(&reply).await,
                Err(e) => unreadable(e),
            }
        }
        MODERATE_COMMENT_EVENT => {
            match serde_json::from_str::<ModerateCommentCommand>(&command.payload) {
                Ok(moderation) => driver.moderate_comment(&moderation).await,
                Err(e) => unreadable(e),
            }
        }
        _ => match serde_json::from_str::<SendMessageCommand>(&command.payload) {
            Ok(send) => driver.send_message(&send).await,
            Err(e) => unreadable(e),
        },
    }
}

/// The event and body that report an outcome, in the sender's documented shape.
fn outcome_of(command: &StoredCommand, executed: Executed) -> (&'static str, Value) {
    let id = &command.command_id;
    if command.event == POST_EVENT {
        let body = match executed {
            Executed::Sent {
                platform_id, link, ..
            } => json!({"command_id": id, "status": "posted",
                "platform_post_id": platform_id, "link": link}),
            Executed::Failed(reason) => {
                json!({"command_id": id, "status": "failed", "error": reason})
            }
        };
        ("post_status_update", body)
    } else {
        let body = match executed {
            Executed::Sent {
                platform_id,
                recipient_id,
                ..
            } => {
                let mut body =
                    json!({"command_id": id, "status": "sent", "platform_message_id": platform_id});
                if let Some(recipient_id) = recipient_id {
                    body["recipient_id"] = Value::String(recipient_id);
                }
                body
            }
            Executed::Failed(reason) => {
                json!({"command_id": id, "status": "failed", "error": reason})
            }
        };
        ("message_status_update", body)
    }
}

/// Delivers unreported outcomes whenever there is a connection, until the sender confirms each.
async fn report(shared: Shared) {
    loop {
        // Woken by a new outcome or a connection; the tick retries outcomes the sender could not record.
        tokio::select! {
            () = shared.report.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(15)) => {}
        }
        let Some(emitter) = shared.emitter() else {
            continue;
        };
        let unreported = match shared.spool.unreported().await {
            Ok(list) => list,
            Err(error) => {
                tracing::error!(%error, "cannot read outcomes to report");
                continue;
            }
        };
        for command in unreported {
            let CommandState::Finished { event, body, .. } = &command.state else {
                continue;
            };
            let Ok(body) = serde_json::from_str::<Value>(body) else {
                continue;
            };
            match emitter.emit_with_ack(event, &body, ACK_TIMEOUT).await {
                Ok(answer) => {
                    if answer["error"]["code"] == "internal" {
                        tracing::warn!(command_id = %command.command_id, "the sender could not record an outcome; will repeat it");
                        break;
                    }
                    if answer["success"] != Value::Bool(true) {
                        // Refused as invalid or unknown: repeating it cannot change that.
                        tracing::warn!(command_id = %command.command_id, %answer, "the sender refused an outcome");
                    }
                    if let Err(error) = shared.spool.mark_reported(&command.command_id).await {
                        tracing::error!(%error, "cannot note a reported outcome");
                    }
                }
                Err(error) => {
                    tracing::debug!(%error, "outcome not confirmed; will repeat after reconnecting");
                    break;
                }
            }
        }
    }
}
