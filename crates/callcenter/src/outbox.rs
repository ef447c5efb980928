//! The call center's outbox: sends the stored commands to the phone system (`phone_commands`), at once
//! when this node stored one, and in a sweep every second for retries and for commands another node
//! (perhaps one that stopped) left pending. Each send is claimed in the store first, so two nodes never
//! send one command together; a command survives any restart until the phone system takes it or it
//! is given up, and its outcome reaches the consoles (`phone_command_updated`).

use crate::engine::Engine;
use crate::webhook::Sent;
use std::time::Duration;
use switchboard_domain::UnixMillis;
use switchboard_domain::phone_commands::{MAX_ATTEMPTS, retry_after};
use switchboard_storage::{DueCommand, SendResult};

/// How often the outbox looks for due commands besides its wake-ups.
const SWEEP: Duration = Duration::from_secs(1);
/// How long a claimed command is this node's: longer than a send can take (5 s timeout).
const LEASE: Duration = Duration::from_secs(30);
/// Commands sent at once.
const BATCH: usize = 16;

/// Starts this node's outbox (only when a phone system is configured).
pub(crate) fn start(engine: Engine) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = engine.outbox_wake().notified() => {}
                () = tokio::time::sleep(SWEEP) => {}
            }
            send_due(&engine).await;
        }
    });
}

/// Sends every command due now, a batch at a time.
async fn send_due(engine: &Engine) {
    loop {
        let due = match engine
            .store()
            .claim_phone_commands(UnixMillis::now(), LEASE, BATCH)
            .await
        {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "cannot read the phone commands to send; trying again in a second");
                return;
            }
        };
        if due.is_empty() {
            return;
        }
        let sends = due.into_iter().map(|command| send_one(engine, command));
        futures_util::future::join_all(sends).await;
    }
}

async fn send_one(engine: &Engine, due: DueCommand) {
    let id = due.command.id;
    let attempt = due.command.attempts + 1;
    let result = match engine.webhook().send(id, &due.body).await {
        Sent::Delivered => SendResult::Delivered,
        Sent::Refused(answer) => {
            tracing::warn!(command = id, kind = %due.command.kind, %answer, "the phone system refused a command");
            SendResult::Failed { error: answer }
        }
        Sent::Failed(answer) if attempt >= MAX_ATTEMPTS => {
            tracing::error!(command = id, kind = %due.command.kind, %answer, "gave up sending a command to the phone system");
            SendResult::Failed {
                error: format!("no answer after {attempt} attempts: {answer}"),
            }
        }
        Sent::Failed(answer) => {
            tracing::warn!(command = id, attempt, %answer, "the phone system did not take a command; it will be sent again");
            let pause = i64::try_from(retry_after(attempt).as_millis()).unwrap_or(60_000);
            SendResult::Retry {
                error: answer,
                at: UnixMillis(UnixMillis::now().0 + pause),
            }
        }
    };
    let announced = !matches!(result, SendResult::Retry { .. });
    match engine.store().phone_command_sent(id, result).await {
        Ok(_) if announced => engine.feed().notify(),
        Ok(_) => {}
        // The lease runs out and the command is sent again: at least once, never lost.
        Err(error) => {
            tracing::warn!(%error, command = id, "cannot record a send to the phone system")
        }
    }
}
