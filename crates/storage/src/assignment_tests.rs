//! Automatic assignment on the store: who is given what, when room appears, and what happens when an
//! agent leaves. Runs on both engines.

use crate::ingest::tests::batch_in_thread;
use crate::presence::NodeId;
use crate::teamwork::Actor;
use crate::{AccountKind, ConversationFilter, Store};
use std::time::Duration;
use switchboard_domain::access::AccessList;
use switchboard_domain::teamwork::{AssignmentIn, ConversationChanges};
use switchboard_domain::{ConversationStatus, Role};

struct Floor {
    _db: crate::TestDatabase,
    store: Store,
    node: NodeId,
    /// Agents lan, minh and an; supervisor thu.
    lan: i64,
    minh: i64,
    an: i64,
    thu: i64,
}

async fn floor() -> Floor {
    let (db, store) = crate::temp_store().await;
    store
        .ensure_account("page1", "", AccountKind::Page)
        .await
        .expect("account");
    let mut ids = Vec::new();
    for (name, role) in [
        ("lan", Role::Agent),
        ("minh", Role::Agent),
        ("an", Role::Agent),
        ("thu", Role::Supervisor),
    ] {
        let user = store
            .create_user(name, "", role, "mat-khau-dai-du".into())
            .await
            .expect("user");
        ids.push(user.id);
    }
    Floor {
        _db: db,
        store,
        node: NodeId::random(),
        lan: ids[0],
        minh: ids[1],
        an: ids[2],
        thu: ids[3],
    }
}

impl Floor {
    async fn online(&self, user_id: i64) {
        self.store
            .console_connection(&self.node, user_id, true)
            .await
            .expect("online");
    }

    async fn offline(&self, user_id: i64) {
        self.store
            .console_connection(&self.node, user_id, false)
            .await
            .expect("offline");
    }

    async fn auto(&self, limit: i64, return_when_offline: bool) {
        let (account, _) = self
            .store
            .set_assignment(
                "page1",
                AssignmentIn {
                    auto: Some(true),
                    limit: Some(limit),
                    return_when_offline: Some(return_when_offline),
                },
            )
            .await
            .expect("settings");
        assert!(account.assignment.auto);
        assert_eq!(account.assignment.limit, limit);
    }

    /// A customer writes in `thread`; answers its conversation's id.
    async fn writes(&self, thread: &str, message: &str) -> i64 {
        self.store
            .ingest_messages(batch_in_thread("page1", thread, &[message]))
            .await
            .expect("ingest");
        self.store
            .conversations("page1", ConversationFilter::default(), None, 100)
            .await
            .expect("list")
            .items
            .into_iter()
            .find(|c| c.thread_id == thread)
            .expect("the thread's conversation")
            .id
    }

    async fn owner(&self, conversation: i64) -> Option<i64> {
        self.store
            .conversation(conversation)
            .await
            .expect("conversation")
            .assignee_user_id
    }

    async fn resolve(&self, conversation: i64) {
        self.store
            .update_conversation(
                conversation,
                ConversationChanges {
                    assignee: None,
                    status: Some(ConversationStatus::Resolved),
                    snoozed_until: None,
                    labels: None,
                },
                Actor {
                    user_id: Some(self.thu),
                    assigns_others: true,
                },
            )
            .await
            .expect("resolve");
    }
}

#[tokio::test]
async fn conversations_go_to_the_online_agent_with_the_fewest_then_wait_oldest_first() {
    let floor = floor().await;
    // Off by default: a conversation waits, even with agents online.
    floor.online(floor.lan).await;
    let first = floor.writes("t1", "m1").await;
    assert_eq!(floor.owner(first).await, None);

    // On, with room for two each: the waiting one goes at once, to the only agent online (the
    // supervisor online too is never given any).
    floor.online(floor.thu).await;
    floor.auto(2, false).await;
    assert_eq!(floor.owner(first).await, Some(floor.lan));
    floor.online(floor.minh).await;
    let second = floor.writes("t2", "m2").await;
    assert_eq!(floor.owner(second).await, Some(floor.minh), "fewest open");
    let third = floor.writes("t3", "m3").await;
    let fourth = floor.writes("t4", "m4").await;
    let mut owners = [floor.owner(third).await, floor.owner(fourth).await];
    owners.sort();
    assert_eq!(owners, [Some(floor.lan), Some(floor.minh)]);
    // Everyone is full: the next two wait, unassigned; An is offline and is given nothing.
    let fifth = floor.writes("t5", "m5").await;
    let sixth = floor.writes("t6", "m6").await;
    assert_eq!(
        (floor.owner(fifth).await, floor.owner(sixth).await),
        (None, None)
    );

    // Room appears when Lan resolves one: the oldest waiting goes to her.
    floor.resolve(first).await;
    assert_eq!(floor.owner(fifth).await, Some(floor.lan));
    assert_eq!(floor.owner(sixth).await, None);
    // An comes online: the last one goes to him.
    floor.online(floor.an).await;
    assert_eq!(floor.owner(sixth).await, Some(floor.an));

    // Each change was in the event log as `auto_assigned`.
    let events = floor.store.events_after(0, 1000).await.expect("events");
    let auto = events
        .iter()
        .filter(|e| {
            e.kind == switchboard_domain::EventKind::ConversationUpdated
                && e.json().expect("json")["reason"] == "auto_assigned"
        })
        .count();
    assert_eq!(auto, 6);
}

#[tokio::test]
async fn only_agents_who_may_see_the_page_are_given_its_conversations() {
    let floor = floor().await;
    floor
        .store
        .set_access(
            "page1",
            Some(AccessList {
                user_ids: vec![floor.minh],
                team_ids: vec![],
            }),
        )
        .await
        .expect("access");
    floor.online(floor.lan).await;
    floor.auto(5, false).await;
    let waiting = floor.writes("t1", "m1").await;
    assert_eq!(floor.owner(waiting).await, None, "Lan cannot see page1");
    floor.online(floor.minh).await;
    assert_eq!(floor.owner(waiting).await, Some(floor.minh));
}

#[tokio::test]
async fn a_reopened_conversation_returns_to_its_owner_if_online_else_to_the_queue() {
    let floor = floor().await;
    floor.online(floor.lan).await;
    floor.online(floor.minh).await;
    let conversation = floor.writes("t1", "m1").await;
    floor.resolve(conversation).await;
    floor
        .store
        .take_conversation(conversation, floor.lan)
        .await
        .expect("take");
    floor.resolve(conversation).await;
    // Lan is online: the customer's next message reopens it for her.
    floor.writes("t1", "m2").await;
    let view = floor.store.conversation(conversation).await.expect("view");
    assert_eq!(
        (view.status, view.assignee_user_id),
        (ConversationStatus::Open, Some(floor.lan))
    );
    // Lan has left: it reopens into the queue, and automatic assignment gives it to Minh.
    floor.resolve(conversation).await;
    floor.offline(floor.lan).await;
    floor.auto(5, false).await;
    floor.writes("t1", "m3").await;
    assert_eq!(floor.owner(conversation).await, Some(floor.minh));
}

#[tokio::test]
async fn an_agent_gone_offline_hands_back_open_conversations_where_the_page_asks() {
    let floor = floor().await;
    floor.online(floor.lan).await;
    floor.auto(5, true).await;
    let conversation = floor.writes("t1", "m1").await;
    assert_eq!(floor.owner(conversation).await, Some(floor.lan));

    // A console reloading (gone, then back within the grace) changes nothing.
    floor.offline(floor.lan).await;
    let held = |users: Vec<i64>| move || users;
    floor
        .store
        .console_heartbeat(&floor.node, held(vec![]), Duration::from_secs(60))
        .await
        .expect("heartbeat");
    assert_eq!(floor.owner(conversation).await, Some(floor.lan));
    // The heartbeat of a node that holds her console again keeps her.
    floor
        .store
        .console_heartbeat(&floor.node, held(vec![floor.lan]), Duration::ZERO)
        .await
        .expect("heartbeat");
    assert_eq!(floor.owner(conversation).await, Some(floor.lan));
    assert_eq!(
        floor.store.online_users().await.expect("online"),
        [floor.lan]
    );

    // Gone for longer than the grace: back to the queue, then to Minh when he comes.
    floor
        .store
        .console_heartbeat(&floor.node, held(vec![]), Duration::ZERO)
        .await
        .expect("heartbeat");
    floor
        .store
        .console_heartbeat(&floor.node, held(vec![]), Duration::ZERO)
        .await
        .expect("heartbeat");
    assert_eq!(floor.owner(conversation).await, None);
    floor.online(floor.minh).await;
    assert_eq!(floor.owner(conversation).await, Some(floor.minh));
}

#[tokio::test]
async fn a_limit_out_of_bounds_is_refused_and_an_unknown_page_named() {
    let floor = floor().await;
    let refused = AssignmentIn {
        limit: Some(0),
        ..AssignmentIn::default()
    }
    .validate()
    .expect_err("limit 0");
    assert_eq!(refused.field, "limit");
    assert!(matches!(
        floor
            .store
            .set_assignment("no-such-page", AssignmentIn::default())
            .await,
        Err(crate::StorageError::UnknownAccount(_))
    ));
}

#[tokio::test]
async fn a_conversation_an_agent_hands_back_goes_to_someone_else() {
    let floor = floor().await;
    floor.online(floor.lan).await;
    floor.auto(5, false).await;
    let conversation = floor.writes("t1", "m1").await;
    assert_eq!(floor.owner(conversation).await, Some(floor.lan));
    let hand_back = ConversationChanges {
        assignee: Some(None),
        status: None,
        snoozed_until: None,
        labels: None,
    };
    let lan = Actor {
        user_id: Some(floor.lan),
        assigns_others: false,
    };
    floor
        .store
        .update_conversation(conversation, hand_back, lan)
        .await
        .expect("hand back");
    // Lan has the fewest, but handed it back: it waits, through the sweeps, for someone else.
    assert_eq!(floor.owner(conversation).await, None);
    let held = vec![floor.lan];
    floor
        .store
        .console_heartbeat(&floor.node, move || held, Duration::from_secs(60))
        .await
        .expect("heartbeat");
    assert_eq!(floor.owner(conversation).await, None);
    floor.online(floor.minh).await;
    assert_eq!(floor.owner(conversation).await, Some(floor.minh));
}

/// An agent's open conversations (their load, counted for every hand-out and on the floor) are
/// sought by assignee and status in the assignee's index (which since version 31 also stands for the
/// partial index of open conversations by assignee), and the counts of a status by status and account
/// in the status's: plans read from each engine (PostgreSQL with sequential scans off, as its tables
/// here are too small to plan for otherwise).
#[tokio::test]
async fn an_agents_open_conversations_and_a_status_counts_seek_their_own_indexes() {
    let floor = floor().await;
    let plans = floor
        .store
        .write(|tx| {
            // Bound as the store binds them: SQLite plans `= ?1` otherwise than `= 7`.
            let plan = |query: &str, values: &[&dyn crate::sql::ToValue]| -> crate::Result<String> {
                let lines = match tx.dialect() {
                    crate::sql::Dialect::Sqlite => {
                        tx.rows(&format!("EXPLAIN QUERY PLAN {query}"), values, |r| {
                            r.get::<String>(3)
                        })?
                    }
                    crate::sql::Dialect::Postgres => {
                        tx.execute("SET LOCAL enable_seqscan = off", &[])?;
                        tx.rows(&format!("EXPLAIN (COSTS OFF) {query}"), values, |r| {
                            r.get::<String>(0)
                        })?
                    }
                };
                Ok(lines.join("\n"))
            };
            Ok([
                plan(
                    "SELECT COUNT(*) FROM conversations c
                     WHERE c.assignee_user_id = ?1 AND c.status = 'open'",
                    crate::sql::args![7_i64],
                )?,
                plan(
                    "UPDATE conversations SET assignee_user_id = NULL, updated_at = ?2
                     WHERE assignee_user_id = ?1 AND status = 'open'",
                    crate::sql::args![7_i64, 1_i64],
                )?,
                plan(
                    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN assignee_user_id IS NULL THEN 1 ELSE 0 END), 0)
                     FROM conversations WHERE status = ?1 AND account_id IN (1, 2)",
                    crate::sql::args!["open"],
                )?,
            ])
        })
        .await
        .expect("plans");
    for plan in &plans[..2] {
        // Sought by both columns, not by the assignee then filtered.
        assert!(
            plan.contains("conversations_by_assignee") && plan.contains("status"),
            "{plan}"
        );
    }
    assert!(plans[2].contains("conversations_by_status"), "{}", plans[2]);
}
