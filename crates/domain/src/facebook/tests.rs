//! Webhook payloads, Graph times, the messaging window, Graph errors and usage headers, as Meta
//! documents them.

use super::*;
use serde_json::json;

const PAGE: &str = "5550001";

#[test]
fn messaging_events_become_messages_receipts_and_echoes() {
    let body = json!({"object": "page", "entry": [
        {"id": PAGE, "time": 1_795_000_000_000_i64, "messaging": [
            {"sender": {"id": "p1"}, "recipient": {"id": PAGE}, "timestamp": 1_795_000_000_000_i64,
             "message": {"mid": "m_1", "text": "Chào shop",
                         "attachments": [{"type": "image", "payload": {"url": "https://cdn.example/a.jpg"}}]}},
            {"sender": {"id": PAGE}, "recipient": {"id": "p1"}, "timestamp": 1_795_000_001_000_i64,
             "message": {"mid": "m_2", "is_echo": true, "app_id": 1, "text": "Dạ"}},
            {"sender": {"id": PAGE}, "recipient": {"id": "p1"}, "timestamp": 1_795_000_002_000_i64,
             "message": {"mid": "m_3", "is_echo": true, "metadata": "switchboard:abc", "text": "x"}},
            {"sender": {"id": "p1"}, "recipient": {"id": PAGE}, "delivery": {"mids": ["m_2"], "watermark": 1_795_000_003_000_i64}},
            {"sender": {"id": "p1"}, "recipient": {"id": PAGE}, "timestamp": 1_795_000_004_000_i64, "read": {"watermark": 1_795_000_004_000_i64}},
            {"sender": {"id": "p1"}, "recipient": {"id": PAGE}, "timestamp": 1_795_000_005_000_i64,
             "postback": {"title": "Xem giỏ hàng", "payload": "CART", "mid": "m_4"}}
        ], "standby": [
            {"sender": {"id": "p2"}, "recipient": {"id": PAGE}, "timestamp": 1_795_000_006_000_i64,
             "message": {"mid": "m_5", "attachments": [{"type": "location", "payload": {"coordinates": {}}}]}}
        ]},
        {"id": "other-page", "messaging": [{"sender": {"id": "x"}, "recipient": {"id": "other-page"},
            "timestamp": 1, "message": {"mid": "m_x", "text": "not ours"}}]}
    ]});
    let (updates, foreign) = parse_webhook(PAGE, &body).expect("parse");
    assert_eq!(foreign, 1);
    assert_eq!(updates.len(), 7);
    let Update::Message(first) = &updates[0] else {
        panic!("{:?}", updates[0])
    };
    assert_eq!(first.conversation.thread_id, "p1");
    assert_eq!(first.direction, Direction::In);
    assert_eq!(first.attachments[0].kind, AttachmentKind::Image);
    let Update::Message(echo) = &updates[1] else {
        panic!()
    };
    assert_eq!(
        (echo.direction, echo.conversation.participant_id.as_str()),
        (Direction::Out, "p1")
    );
    assert_eq!(
        updates[2],
        Update::OwnEcho {
            message_id: "m_3".into()
        }
    );
    assert!(matches!(
        updates[3],
        Update::Receipt {
            kind: ReceiptKind::Delivered,
            ..
        }
    ));
    assert!(matches!(
        updates[4],
        Update::Receipt {
            kind: ReceiptKind::Read,
            ..
        }
    ));
    let Update::Message(postback) = &updates[5] else {
        panic!()
    };
    assert_eq!(postback.text.as_deref(), Some("▶ Xem giỏ hàng"));
    let Update::Message(location) = &updates[6] else {
        panic!()
    };
    assert_eq!(location.text.as_deref(), Some("[location]"));
}

#[test]
fn comments_become_comments_and_reactions_notifications() {
    let body = json!({"object": "page", "entry": [{"id": PAGE, "time": 1, "changes": [
        {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "55_66", "post_id": "5550001_55",
          "parent_id": "5550001_55", "from": {"id": "p9", "name": "Hà"}, "message": "Giá bao nhiêu?",
          "created_time": 1_795_000_000, "post": {"id": "5550001_55", "permalink_url": "https://www.facebook.com/shop/posts/55"}}},
        {"field": "feed", "value": {"item": "reaction", "verb": "add", "reaction_type": "love", "post_id": "5550001_55",
          "from": {"id": "p9", "name": "Hà"}, "created_time": 1_795_000_001}},
        {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "55_67", "post_id": "5550001_55",
          "parent_id": "55_66", "from": {"id": PAGE, "name": "Shop"}, "message": "Dạ 200k", "created_time": 1_795_000_002}},
        {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "55_68", "post_id": "5550001_55",
          "parent_id": "5550001_55", "from": {"id": PAGE, "name": "Shop"}, "message": "Ghim: giá ở link", "created_time": 1_795_000_003}},
        {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "55_69", "post_id": "5550001_55",
          "parent_id": "55_66", "from": {"id": "p10"}, "photo": "https://scontent.example/a.jpg", "created_time": 1_795_000_004}}
    ]}]});
    let (updates, _) = parse_webhook(PAGE, &body).expect("parse");
    assert_eq!(
        updates.len(),
        4,
        "the page's comment on its own post is no customer's: {updates:?}"
    );
    let Update::Comment(comment) = &updates[0] else {
        panic!("{:?}", updates[0])
    };
    assert_eq!(
        (comment.comment_id.as_str(), comment.post_id.as_str()),
        ("55_66", "5550001_55")
    );
    assert_eq!(
        comment.parent_id, None,
        "a comment on the post answers nothing"
    );
    assert_eq!(
        (comment.author.id.as_str(), comment.author.name.as_deref()),
        ("p9", Some("Hà"))
    );
    assert_eq!(comment.created_at, UnixMillis(1_795_000_000_000));
    assert_eq!(
        comment.post.as_ref().and_then(|p| p.permalink.as_deref()),
        Some("https://www.facebook.com/shop/posts/55")
    );
    let Update::Notification(reaction) = &updates[1] else {
        panic!()
    };
    assert_eq!(reaction.kind, "reaction");
    let Update::Comment(answer) = &updates[2] else {
        panic!()
    };
    assert!(answer.from_page);
    assert_eq!(answer.parent_id.as_deref(), Some("55_66"));
    let Update::Comment(photo) = &updates[3] else {
        panic!()
    };
    assert_eq!(photo.attachments.len(), 1);
}

#[test]
fn a_body_that_is_not_a_page_webhook_is_refused() {
    assert!(parse_webhook(PAGE, &json!({"object": "instagram", "entry": []})).is_err());
    assert!(parse_webhook(PAGE, &json!({"object": "page"})).is_err());
}

#[test]
fn graph_times_have_no_colon_in_the_offset() {
    assert_eq!(
        parse_graph_time("2026-11-20T10:00:00+0000"),
        Some(UnixMillis(1_795_168_800_000))
    );
    assert_eq!(
        parse_graph_time("2026-11-20T17:00:00+0700"),
        Some(UnixMillis(1_795_168_800_000))
    );
    assert_eq!(
        parse_graph_time("2026-11-20T10:00:00Z"),
        Some(UnixMillis(1_795_168_800_000))
    );
    assert_eq!(parse_graph_time("yesterday"), None);
    assert_eq!(parse_graph_time("2026-11-20T10:00:00+00ằ"), None);
}

#[test]
fn the_messaging_window_picks_the_type_or_refuses() {
    let now = UnixMillis(1_795_000_000_000);
    let ago = |hours: i64| Some(UnixMillis(now.0 - hours * HOUR_MS));
    assert_eq!(
        messaging_policy(now, ago(23)),
        Ok(MessagingPolicy::Response)
    );
    assert_eq!(
        messaging_policy(now, ago(25)),
        Ok(MessagingPolicy::HumanAgent)
    );
    assert_eq!(
        messaging_policy(now, ago(7 * 24)),
        Ok(MessagingPolicy::HumanAgent)
    );
    assert!(
        messaging_policy(now, ago(7 * 24 + 1))
            .expect_err("outside the window")
            .to_string()
            .contains("7 days")
    );
    assert!(messaging_policy(now, None).is_err());
}

#[test]
fn graph_errors_are_classified() {
    let error = |code, transient| GraphError {
        code,
        is_transient: transient,
        ..Default::default()
    };
    assert_eq!(error(190, None).classify(400), GraphFailure::ExpiredToken);
    for code in [4, 17, 32, 613, 80006] {
        assert_eq!(error(code, None).classify(400), GraphFailure::RateLimited);
    }
    assert_eq!(error(2, None).classify(500), GraphFailure::Transient);
    assert_eq!(
        error(100, Some(true)).classify(400),
        GraphFailure::Transient
    );
    assert_eq!(error(0, None).classify(503), GraphFailure::Transient);
    assert_eq!(error(10, None).classify(400), GraphFailure::Permanent);
}

#[test]
fn usage_headers_give_the_highest_share_and_the_regain_time() {
    let mut usage = Usage::default();
    usage.absorb(r#"{"call_count":28,"total_time":25,"total_cputime":25}"#);
    assert_eq!(usage.percent, 28);
    usage.absorb(r#"{"5550001":[{"type":"pages","call_count":96,"total_cputime":10,"total_time":10,"estimated_time_to_regain_access":3}]}"#);
    assert_eq!(
        usage,
        Usage {
            percent: 96,
            regain_minutes: Some(3)
        }
    );
    usage.absorb("not json");
    assert_eq!(usage.percent, 96);
}
