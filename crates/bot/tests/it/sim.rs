//! The bot with the `sim` driver against the real receiver and sender: data flows in, an agent's reply
//! is executed once and reported, an outage of the receiver loses nothing, and a command the bot already
//! carried out is never carried out again.

use std::time::Duration;
use switchboard_bot::Driver;
use switchboard_bot::sim::{SimDriver, SimOptions};
use switchboard_storage::{AccountKind, CommandState, OutboxKind};
use switchboard_testkit::bot::{ACCOUNT, System};
use switchboard_testkit::eventually;

fn sim(messages_per_minute: f64, max_messages: Option<u64>) -> SimDriver {
    SimDriver::new(SimOptions {
        messages_per_minute,
        notifications_per_minute: 0.0,
        comments_per_minute: 0.0,
        customers: 3,
        reply_delay: (Duration::from_millis(50), Duration::from_millis(150)),
        max_messages,
        ..SimOptions::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_flow_in_and_a_reply_is_executed_once_and_reported() {
    let system = System::start(AccountKind::Page).await;
    let driver = sim(1200.0, Some(5));
    let bot = system.run_bot(Driver::Sim(driver.clone()));

    let incoming = system.messages_reaching(5).await;
    assert!(
        incoming
            .iter()
            .all(|m| m.direction == "in" && !m.text.is_empty())
    );
    assert_eq!(system.account().await.bot_status, "online");

    let session = system.login().await;
    let sent = system
        .reply(&session, incoming[0].conversation_id, "Dạ còn ạ")
        .await;
    let message_id = sent["message"]["id"].as_i64().expect("id");
    let command_id = sent["command_id"].as_str().expect("command id").to_owned();
    let delivered = eventually(10, "the reply marked sent", || async {
        let message = system.message(message_id).await;
        (message.status == "sent").then_some(message)
    })
    .await;
    assert!(
        delivered
            .message_id
            .as_deref()
            .is_some_and(|id| id.starts_with("m_simout"))
    );
    assert_eq!(driver.executed_commands(), vec![command_id]);

    // The customer reads it and answers.
    eventually(10, "the customer's answer", || async {
        let messages = system.messages().await;
        let answered = messages.iter().any(|m| {
            m.conversation_id == incoming[0].conversation_id
                && m.direction == "in"
                && m.id > message_id
        });
        answered.then_some(())
    })
    .await;
    // A post goes through the same way.
    let post_id = system
        .post(
            &session,
            serde_json::json!({"user_id_chat": ACCOUNT, "content": "Khuyến mãi cuối tuần!"}),
        )
        .await;
    system.post_reaching(post_id, "posted").await;
    assert_eq!(driver.executions(), (1, 1));

    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_of_the_receiver_loses_nothing_and_keeps_the_order() {
    let mut system = System::start(AccountKind::Page).await;
    let total = 60;
    let driver = sim(1800.0, Some(total));
    let bot = system.run_bot(Driver::Sim(driver.clone()));
    eventually(10, "the first messages", || async {
        (system.messages().await.len() >= 3).then_some(())
    })
    .await;

    system.stop_receiver();
    let at_stop = driver.generated();
    eventually(
        10,
        "the sim collecting while the receiver is down",
        || async { (driver.generated() - at_stop >= 10).then_some(()) },
    )
    .await;
    let during = driver.generated() - at_stop;
    assert!(
        during >= 10,
        "the sim kept collecting while the receiver was down ({during})"
    );
    let spooled = system.spool().counts().await.expect("counts").0;
    assert!(spooled > 0, "what could not be sent waits in the spool");

    system.start_receiver().await;
    let messages = eventually(20, "every collected message in the CRM", || async {
        let messages = system.messages().await;
        (messages.len() as u64 == total && driver.generated() == total).then_some(messages)
    })
    .await;
    // In order: the CRM stored them in the order the sim wrote them (ids end in the sim's counter).
    let mut by_arrival = messages.clone();
    by_arrival.sort_by_key(|m| m.id);
    let counters: Vec<u64> = by_arrival
        .iter()
        .map(|m| {
            m.message_id
                .as_deref()
                .and_then(|id| id.rsplit('_').next())
                .and_then(|n| n.parse().ok())
                .expect("counter")
        })
        .collect();
    assert!(
        counters.windows(2).all(|w| w[0] < w[1]),
        "arrival order {counters:?}"
    );
    let distinct: std::collections::HashSet<_> =
        messages.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(distinct.len() as u64, total, "no duplicates");

    bot.stop().await;
    assert_eq!(system.spool().counts().await.expect("counts"), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_already_carried_out_is_not_carried_out_again_after_a_restart() {
    let system = System::start(AccountKind::Page).await;
    // A customer conversation to answer.
    let first = sim(1200.0, Some(2));
    let bot = system.run_bot(Driver::Sim(first.clone()));
    let conversation_id = eventually(10, "a conversation", || async {
        system.messages().await.first().map(|m| m.conversation_id)
    })
    .await;
    bot.stop().await;

    // Two replies queued while the bot is away. The spool says the bot already sent the first (and was
    // stopped before the sender heard), and was cut short in the middle of the second.
    let session = system.login().await;
    let done = system
        .reply(&session, conversation_id, "Dạ shop gửi ạ")
        .await;
    let cut = system
        .reply(&session, conversation_id, "Shop gửi thêm ảnh ạ")
        .await;
    {
        let spool = system.spool();
        // The commands exactly as the sender hands them over, so a wrong re-run would reach the driver.
        let pending = system
            .store
            .commands_to_deliver(ACCOUNT, 0, 10)
            .await
            .expect("commands");
        for (queued, finish) in [(&done, true), (&cut, false)] {
            let command_id = queued["command_id"].as_str().expect("id").to_owned();
            let payload = pending
                .iter()
                .find(|c| c.command_id == command_id)
                .expect("pending command")
                .payload
                .get()
                .to_owned();
            let stored = spool
                .receive_command(command_id.clone(), "send_message_command".into(), payload)
                .await
                .expect("receive");
            assert_eq!(stored.state, CommandState::Received);
            assert!(spool.start_command(&command_id).await.expect("start"));
            if finish {
                let body = serde_json::json!({"command_id": command_id, "status": "sent", "platform_message_id": "m_before_restart"});
                spool
                    .finish_command(&command_id, "message_status_update", body.to_string())
                    .await
                    .expect("finish");
            }
        }
    }

    let second = sim(0.0, None);
    let bot = system.run_bot(Driver::Sim(second.clone()));
    let done_id = done["message"]["id"].as_i64().expect("id");
    let cut_id = cut["message"]["id"].as_i64().expect("id");
    let (sent, failed) = eventually(10, "both outcomes reported", || async {
        let sent = system.message(done_id).await;
        let failed = system.message(cut_id).await;
        (sent.status == "sent" && failed.status == "failed").then_some((sent, failed))
    })
    .await;
    assert_eq!(sent.message_id.as_deref(), Some("m_before_restart"));
    assert!(
        failed
            .error
            .as_deref()
            .is_some_and(|e| e.contains("check the conversation on Facebook")),
        "{failed:?}"
    );
    // Give a redelivery time to (wrongly) execute, then check nothing ran: proving that nothing
    // happens takes a window of time, the wait is the thing under test.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(second.executions(), (0, 0), "nothing executed twice");

    // A retry by the agent is a new command, and runs.
    let answer: serde_json::Value = system
        .http
        .post(format!("{}/api/messages/{cut_id}/retry", system.sender))
        .bearer_auth(&session)
        .header("content-type", "application/json")
        .send()
        .await
        .expect("retry")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["success"], true, "{answer}");
    eventually(10, "the retry sent", || async {
        (system.message(cut_id).await.status == "sent").then_some(())
    })
    .await;
    assert_eq!(second.executions(), (1, 0));

    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_item_is_set_aside_and_the_rest_still_arrives_in_order() {
    let system = System::start(AccountKind::Page).await;
    let message = |n: u32| {
        serde_json::json!({"message_id": format!("m_kept_{n}"),
            "conversation": {"thread_id": "t_1", "participant_id": "p_1", "participant_name": "Lê Thị Hà"},
            "direction": "in", "text": format!("tin {n}"), "sent_at": 1_795_000_000 + n})
        .to_string()
    };
    {
        // Seven good items around one the receiver cannot read, as a damaged spool row would be.
        let spool = system.spool();
        let mut items: Vec<(OutboxKind, String)> = (1..=3)
            .map(|n| (OutboxKind::Messages, message(n)))
            .collect();
        items.push((OutboxKind::Messages, "{\"message_id\": ".into()));
        items.extend((4..=7).map(|n| (OutboxKind::Messages, message(n))));
        spool.push(items, Vec::new()).await.expect("push");
    }
    let bot = system.run_bot(Driver::Sim(sim(0.0, None)));
    let messages = system.messages_reaching(7).await;
    let mut by_arrival = messages.clone();
    by_arrival.sort_by_key(|m| m.id);
    let texts: Vec<&str> = by_arrival.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "tin 1", "tin 2", "tin 3", "tin 4", "tin 5", "tin 6", "tin 7"
        ]
    );
    // The receiver stores a batch before the bot hears its answer: wait for the bot to clear from its
    // spool what was acknowledged, then check that nothing else is left once it stopped.
    let watching = system.spool();
    eventually(10, "the spool to keep only the damaged item", || async {
        (watching.counts().await.ok()? == (0, 1)).then_some(())
    })
    .await;
    bot.stop().await;
    let counts = system.spool().counts().await.expect("counts");
    assert_eq!(
        counts,
        (0, 1),
        "the damaged item is kept aside, nothing else"
    );
}
