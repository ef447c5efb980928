//! The team inbox on each engine: ownership, states, labels and notes, each change with its event.

use crate::ingest::tests::batch;
use crate::sql::args;
use crate::teamwork::Actor;
use crate::{AccountKind, Assignee, ConversationFilter, StorageError, Store};
use serde_json::Value;
use switchboard_domain::teamwork::{ConversationChanges, NewLabel, NewNote};
use switchboard_domain::{AccountView, ConversationStatus, EventKind, Role, UnixMillis, UserId};

/// A store with the account `page1`, one conversation in it (its id), and users: an agent (Lan), a
/// second agent (Minh) and a supervisor, their ids in that order.
pub(crate) async fn team() -> (crate::TestDatabase, Store, i64, [i64; 3]) {
    let (db, store) = crate::temp_store().await;
    store
        .ensure_account("page1", "", AccountKind::Page)
        .await
        .expect("account");
    store
        .ingest_messages(batch("page1", &["m1"]))
        .await
        .expect("ingest");
    let conversation = store
        .conversations("page1", ConversationFilter::default(), None, 10)
        .await
        .expect("list")
        .items[0]
        .id;
    let mut ids = [0; 3];
    for (slot, (name, role)) in ids.iter_mut().zip([
        ("lan", Role::Agent),
        ("minh", Role::Agent),
        ("thu", Role::Supervisor),
    ]) {
        *slot = store
            .create_user(name, "", role, "mat-khau-dai-du".into())
            .await
            .expect("user")
            .id;
    }
    (db, store, conversation, ids)
}

fn agent(id: i64) -> Actor {
    Actor {
        user_id: Some(id),
        assigns_others: false,
    }
}

fn supervisor(id: i64) -> Actor {
    Actor {
        user_id: Some(id),
        assigns_others: true,
    }
}

fn assign(user: Option<i64>) -> ConversationChanges {
    ConversationChanges {
        assignee: Some(user.map(UserId::new)),
        status: None,
        snoozed_until: None,
        labels: None,
    }
}

fn set_status(status: ConversationStatus, until: Option<UnixMillis>) -> ConversationChanges {
    ConversationChanges {
        assignee: None,
        status: Some(status),
        snoozed_until: until,
        labels: None,
    }
}

fn set_labels(names: &[&str]) -> ConversationChanges {
    ConversationChanges {
        assignee: None,
        status: None,
        snoozed_until: None,
        labels: Some(names.iter().map(|n| (*n).to_owned()).collect()),
    }
}

/// The kind and payload of event `id`.
async fn event(store: &Store, id: Option<i64>) -> (EventKind, Value) {
    let id = id.expect("an event");
    let events = store.events_after(id - 1, 1).await.expect("events");
    (events[0].kind, events[0].json().expect("payload"))
}

async fn last_event_id(store: &Store) -> i64 {
    store.last_event_id().await.expect("last event id")
}

#[tokio::test]
async fn one_agent_takes_a_conversation_and_a_supervisor_reassigns_it() {
    let (_db, store, id, [lan, minh, thu]) = team().await;
    let fresh = store.conversation(id).await.expect("conversation");
    assert_eq!(
        (fresh.status, fresh.assignee_user_id),
        (ConversationStatus::Open, None)
    );

    let (taken, event_id) = store.take_conversation(id, lan).await.expect("take");
    assert_eq!(taken.assignee_user_id, Some(lan));
    let (kind, payload) = event(&store, event_id).await;
    assert_eq!(kind, EventKind::ConversationUpdated);
    assert_eq!(payload["reason"], "taken");
    assert_eq!(payload["by_user_id"], lan);
    assert_eq!(payload["conversation"]["assignee_user_id"], lan);
    assert_eq!(payload["user_id_chat"], "page1");

    // Taking it again is no change; another agent is refused with the owner's id, by both routes.
    assert_eq!(
        store.take_conversation(id, lan).await.expect("again").1,
        None
    );
    let before = last_event_id(&store).await;
    assert!(matches!(
        store.take_conversation(id, minh).await,
        Err(StorageError::AlreadyAssigned(owner)) if owner == lan
    ));
    assert!(matches!(
        store.update_conversation(id, assign(Some(minh)), agent(minh)).await,
        Err(StorageError::AlreadyAssigned(owner)) if owner == lan
    ));
    assert!(matches!(
        store
            .update_conversation(id, assign(Some(minh)), agent(lan))
            .await,
        Err(StorageError::NotAllowed(_))
    ));
    assert_eq!(
        last_event_id(&store).await,
        before,
        "a refusal announces nothing"
    );

    let (moved, event_id) = store
        .update_conversation(id, assign(Some(minh)), supervisor(thu))
        .await
        .expect("reassign");
    assert_eq!(moved.assignee_user_id, Some(minh));
    let (_, payload) = event(&store, event_id).await;
    assert_eq!(
        (payload["reason"].as_str(), payload["by_user_id"].as_i64()),
        (Some("changed"), Some(thu))
    );

    // The owner hands it back to the queue.
    let (back, _) = store
        .update_conversation(id, assign(None), agent(minh))
        .await
        .expect("hand back");
    assert_eq!(back.assignee_user_id, None);
}

#[tokio::test]
async fn an_assignee_must_be_an_enabled_user() {
    let (_db, store, id, [lan, _, thu]) = team().await;
    let unknown = store
        .update_conversation(id, assign(Some(9_999)), supervisor(thu))
        .await;
    assert!(matches!(unknown, Err(StorageError::Invalid(e)) if e.field == "assignee_user_id"));
    let changes = switchboard_domain::outbound::UserChanges {
        display_name: None,
        role: None,
        password: None,
        disabled: Some(true),
    };
    store
        .update_user(lan, changes.checked().expect("valid"))
        .await
        .expect("disable");
    let disabled = store
        .update_conversation(id, assign(Some(lan)), supervisor(thu))
        .await;
    assert!(matches!(disabled, Err(StorageError::Invalid(e)) if e.field == "assignee_user_id"));
    assert_eq!(
        store
            .conversation(id)
            .await
            .expect("conversation")
            .assignee_user_id,
        None
    );
}

#[tokio::test]
async fn a_customers_message_reopens_a_conversation_for_its_owner() {
    let (_db, store, id, [lan, ..]) = team().await;
    // Online (a console connected): a resolved one comes back to her too (see `assignment_tests`
    // for an owner who left).
    store
        .console_connection(&crate::presence::NodeId::random(), lan, true)
        .await
        .expect("online");
    store.take_conversation(id, lan).await.expect("take");
    for status in [ConversationStatus::Resolved, ConversationStatus::Pending] {
        store
            .update_conversation(id, set_status(status, None), agent(lan))
            .await
            .expect("status");
        let outcome = store
            .ingest_messages(batch("page1", &[&format!("again-{status}")]))
            .await
            .expect("ingest");
        let (_, payload) = event(&store, outcome.event_id).await;
        let listed = &payload["conversations"][0];
        assert_eq!(
            (
                listed["status"].as_str(),
                listed["assignee_user_id"].as_i64()
            ),
            (Some("open"), Some(lan)),
            "after {status}"
        );
    }
}

#[tokio::test]
async fn a_snooze_ends_at_its_time_and_its_owner_is_told() {
    let (_db, store, id, [lan, ..]) = team().await;
    store.take_conversation(id, lan).await.expect("take");
    let until = UnixMillis(UnixMillis::now().0 + 3_600_000);
    let (snoozed, _) = store
        .update_conversation(
            id,
            set_status(ConversationStatus::Snoozed, Some(until)),
            agent(lan),
        )
        .await
        .expect("snooze");
    assert_eq!(
        (snoozed.status, snoozed.snoozed_until),
        (ConversationStatus::Snoozed, Some(until))
    );
    assert_eq!(store.next_snooze_end().await.expect("next"), Some(until));
    assert_eq!(
        store
            .wake_snoozed(UnixMillis(until.0 - 1))
            .await
            .expect("early"),
        0
    );

    let before = last_event_id(&store).await;
    assert_eq!(store.wake_snoozed(until).await.expect("due"), 1);
    let (kind, payload) = event(&store, Some(before + 1)).await;
    assert_eq!(kind, EventKind::ConversationUpdated);
    assert_eq!(payload["reason"], "snooze_ended");
    assert_eq!(payload["conversation"]["status"], "open");
    assert_eq!(payload["conversation"]["assignee_user_id"], lan);
    assert_eq!(payload["conversation"]["snoozed_until"], Value::Null);
    assert_eq!(store.next_snooze_end().await.expect("none"), None);
    assert_eq!(
        store.wake_snoozed(until).await.expect("once"),
        0,
        "woken once"
    );
}

#[tokio::test]
async fn labels_are_unique_in_any_case_filter_lists_and_follow_renames() {
    let (_db, store, id, [_, _, thu]) = team().await;
    let vip = store
        .create_label(NewLabel {
            name: "VIP".into(),
            color: "#d4a017".into(),
        })
        .await
        .expect("label");
    store
        .create_label(NewLabel {
            name: "Đơn hàng".into(),
            color: "#1f8a4c".into(),
        })
        .await
        .expect("label");
    let clash = store
        .create_label(NewLabel {
            name: "đơn HÀNG".into(),
            color: "#000000".into(),
        })
        .await;
    assert!(matches!(clash, Err(StorageError::Conflict(_))), "{clash:?}");

    let (labelled, _) = store
        .update_conversation(id, set_labels(&["vip", "ĐƠN HÀNG"]), supervisor(thu))
        .await
        .expect("labels");
    assert_eq!(
        labelled.labels,
        ["VIP", "Đơn hàng"],
        "stored names, by name"
    );
    let unknown = store
        .update_conversation(id, set_labels(&["VIP", "Hoàn tiền"]), supervisor(thu))
        .await;
    assert!(matches!(unknown, Err(StorageError::Invalid(e)) if e.field == "labels[1]"));

    let by_label = |label: &str| ConversationFilter {
        label: Some(label.into()),
        ..ConversationFilter::default()
    };
    let found = store
        .all_conversations(&AccountView::All, by_label("vip"), None, 10)
        .await
        .expect("list");
    assert_eq!(found.items.len(), 1);
    let none = store
        .conversations("page1", by_label("Không có"), None, 10)
        .await
        .expect("list");
    assert!(none.items.is_empty());

    store
        .update_label(
            vip.id,
            NewLabel {
                name: "Khách VIP".into(),
                color: "#d4a017".into(),
            },
        )
        .await
        .expect("rename");
    let renamed = store.conversation(id).await.expect("conversation");
    assert_eq!(renamed.labels, ["Khách VIP", "Đơn hàng"]);
    store.delete_label(vip.id).await.expect("delete");
    assert_eq!(
        store.conversation(id).await.expect("conversation").labels,
        ["Đơn hàng"]
    );
    let (kind, payload) = event(&store, Some(last_event_id(&store).await)).await;
    assert_eq!(kind, EventKind::LabelsChanged);
    assert_eq!(payload["labels"][0]["name"], "Đơn hàng");
    assert!(matches!(
        store.delete_label(vip.id).await,
        Err(StorageError::UnknownLabel(_))
    ));
}

#[tokio::test]
async fn lists_and_counts_follow_the_owner_and_the_status() {
    let (_db, store, id, [lan, minh, _]) = team().await;
    store
        .ingest_messages(crate::ingest::tests::batch_in_thread(
            "page1",
            "t2",
            &["m2"],
        ))
        .await
        .expect("second conversation");
    store.take_conversation(id, lan).await.expect("take");
    let list = |assignee: Option<Assignee>, status: Option<ConversationStatus>| {
        let store = store.clone();
        async move {
            let filter = ConversationFilter {
                assignee,
                status,
                ..ConversationFilter::default()
            };
            let page = store
                .all_conversations(&AccountView::All, filter, None, 10)
                .await
                .expect("list");
            page.items.iter().map(|c| c.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(list(Some(Assignee::User(lan)), None).await, [id]);
    assert_eq!(list(Some(Assignee::Nobody), None).await.len(), 1);
    assert!(!list(Some(Assignee::Nobody), None).await.contains(&id));
    assert!(list(Some(Assignee::User(minh)), None).await.is_empty());
    assert_eq!(list(None, None).await.len(), 2);

    let counts = store
        .conversation_counts(&AccountView::All, Some(lan), ConversationStatus::Open)
        .await
        .expect("counts");
    assert_eq!((counts.mine, counts.unassigned, counts.all), (1, 1, 2));
    store
        .update_conversation(
            id,
            set_status(ConversationStatus::Resolved, None),
            agent(lan),
        )
        .await
        .expect("resolve");
    assert_eq!(list(None, Some(ConversationStatus::Resolved)).await, [id]);
    let counts = store
        .conversation_counts(&AccountView::All, Some(lan), ConversationStatus::Open)
        .await
        .expect("counts");
    assert_eq!((counts.mine, counts.unassigned, counts.all), (0, 1, 1));
}

#[tokio::test]
async fn a_note_names_whom_it_mentions_and_never_becomes_a_command() {
    let (_db, store, id, [lan, minh, _]) = team().await;
    let note = NewNote {
        text: "@minh @ai-do khách hỏi giá sỉ".into(),
        mentions: vec!["minh".into(), "ai-do".into()],
    };
    let (saved, event_id) = store.add_note(id, Some(lan), note).await.expect("note");
    assert_eq!(saved.mentions, [minh], "unknown usernames are left out");
    assert_eq!(saved.author_name, "lan");
    let (kind, payload) = event(&store, Some(event_id)).await;
    assert_eq!(kind, EventKind::NoteAdded);
    assert_eq!(payload["note"]["text"], "@minh @ai-do khách hỏi giá sỉ");
    assert_eq!(payload["note"]["mentions"][0], minh);

    let commands: i64 = store
        .read(|tx| tx.one("SELECT COUNT(*) FROM commands", args![], |r| r.get(0)))
        .await
        .expect("count");
    assert_eq!(commands, 0, "a note is not sent anywhere");
    let page = store.notes(id, None, 10).await.expect("notes");
    assert_eq!(page.items, [saved]);
    assert!(matches!(
        store
            .add_note(
                9_999,
                Some(lan),
                NewNote {
                    text: "x".into(),
                    mentions: vec![]
                }
            )
            .await,
        Err(StorageError::UnknownConversation(9_999))
    ));
}

#[tokio::test]
async fn a_reply_to_a_conversation_nobody_owns_makes_it_the_authors() {
    let (_db, store, id, [lan, minh, _]) = team().await;
    let before = last_event_id(&store).await;
    store
        .queue_message(id, "Dạ em chào chị".into(), Some(lan))
        .await
        .expect("queue");
    assert_eq!(
        store
            .conversation(id)
            .await
            .expect("conversation")
            .assignee_user_id,
        Some(lan)
    );
    let events = store.events_after(before, 10).await.expect("events");
    let updated = events
        .iter()
        .find(|e| e.kind == EventKind::ConversationUpdated)
        .expect("conversation_updated");
    assert_eq!(updated.json().expect("json")["reason"], "replied");
    // Another agent's reply does not take it away.
    store
        .queue_message(id, "Em bổ sung".into(), Some(minh))
        .await
        .expect("queue");
    assert_eq!(
        store
            .conversation(id)
            .await
            .expect("conversation")
            .assignee_user_id,
        Some(lan)
    );
}

#[tokio::test]
async fn canned_responses_have_one_shortcut_each() {
    let (_db, store, _, [lan, ..]) = team().await;
    let new = |shortcut: &str, text: &str| switchboard_domain::teamwork::NewCanned {
        shortcut: shortcut.into(),
        text: text.into(),
        team_id: None,
    };
    let hello = store
        .create_canned(new("chao", "Dạ em chào {{customer.name}} ạ"), Some(lan))
        .await
        .expect("create");
    store
        .create_canned(new("cam-on", "Cảm ơn anh/chị ạ"), None)
        .await
        .expect("create");
    assert!(matches!(
        store.create_canned(new("chao", "again"), None).await,
        Err(StorageError::Conflict(_))
    ));
    assert!(matches!(
        store.update_canned(hello.id, new("cam-on", "x")).await,
        Err(StorageError::Conflict(_))
    ));
    let changed = store
        .update_canned(hello.id, new("xin-chao", "Xin chào {{customer.name}}"))
        .await
        .expect("update");
    assert_eq!(changed.shortcut, "xin-chao");
    let all = store.canned_responses(None).await.expect("list");
    let shortcuts: Vec<&str> = all.iter().map(|c| c.shortcut.as_str()).collect();
    assert_eq!(shortcuts, ["cam-on", "xin-chao"]);
    store.delete_canned(hello.id).await.expect("delete");
    assert!(matches!(
        store.delete_canned(hello.id).await,
        Err(StorageError::UnknownCannedResponse(_))
    ));
    assert_eq!(store.canned_responses(None).await.expect("list").len(), 1);
}

#[tokio::test]
async fn a_teams_canned_responses_are_offered_to_its_members_only() {
    let (_db, store, _, [lan, minh, _]) = team().await;
    let (morning, _) = store
        .create_team(switchboard_domain::access::TeamChanges {
            name: Some("Ca sáng".into()),
            member_ids: Some(vec![lan]),
        })
        .await
        .expect("team");
    let new = |shortcut: &str, team_id: Option<i64>| switchboard_domain::teamwork::NewCanned {
        shortcut: shortcut.into(),
        text: "Dạ em chào {{customer.name}} ạ".into(),
        team_id,
    };
    store
        .create_canned(new("chao", None), None)
        .await
        .expect("everyone's");
    let own = store
        .create_canned(new("ship-sang", Some(morning.id)), None)
        .await
        .expect("the team's");
    assert_eq!(own.team_id, Some(morning.id));
    let offered = |member: Option<i64>| {
        let store = store.clone();
        async move {
            store
                .canned_responses(member)
                .await
                .expect("list")
                .into_iter()
                .map(|c| c.shortcut)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(offered(Some(lan)).await, ["chao", "ship-sang"]);
    assert_eq!(offered(Some(minh)).await, ["chao"]);
    assert_eq!(offered(None).await, ["chao", "ship-sang"]);

    // A team that does not exist is refused by name, and nothing changes.
    let refused = store
        .update_canned(own.id, new("ship-sang", Some(morning.id + 100)))
        .await
        .expect_err("no such team");
    assert!(
        matches!(&refused, StorageError::Invalid(e) if e.field == "team_id"),
        "{refused:?}"
    );
    assert_eq!(offered(Some(lan)).await, ["chao", "ship-sang"]);
    // Deleting the team deletes its replies, not everyone's.
    store.delete_team(morning.id).await.expect("delete team");
    assert_eq!(offered(None).await, ["chao"]);
}
