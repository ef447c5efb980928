//! Files on replies: an agent uploads a picture, sends it with a reply, and the page's bot receives
//! it in its command and downloads it with its own token; nobody outside the page reads it.

use serde_json::{Value, json};
use switchboard_testkit::fixtures_http::Verbs;
use switchboard_testkit::http::assert_error;
use switchboard_testkit::sender::TestSystem;
use switchboard_testkit::socket::next_named;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR a small picture";

/// Uploads `bytes` as `name`: the status and the answer.
async fn upload(app: &TestSystem, token: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let response = app
        .http
        .post(format!("{}/api/attachments", app.sender))
        .query(&[("name", name)])
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .expect("upload");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// Reads a file: the status, its type and its bytes.
async fn download(app: &TestSystem, token: &str, url: &str) -> (u16, String, Vec<u8>) {
    let response = app
        .http
        .get(format!("{}{url}", app.sender))
        .bearer_auth(token)
        .send()
        .await
        .expect("download");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        content_type,
        response.bytes().await.expect("body").to_vec(),
    )
}

#[tokio::test]
async fn a_picture_goes_with_a_reply_to_the_pages_bot_and_to_no_one_outside_the_page() {
    let app = TestSystem::spawn().await;
    let admin = app.admin().await;
    let bot = app.bot("page1").await;
    let other_bot = app.bot("page2").await;
    let conversation = app
        .incoming(&bot, "page1", "m1", "t1", "Cho em xem ảnh áo")
        .await;
    let lan = app.user("lan", "agent").await;
    let minh = app.user("minh", "agent").await;

    // What is refused, by name: not a type Messenger takes, too large, empty, a bot's upload.
    let (status, refused) = upload(&app, &lan, "setup.exe", b"MZ\x90\0".to_vec()).await;
    assert_error(&(status, refused), 422, "field", "file");
    let (status, refused) = upload(&app, &lan, "x.png", Vec::new()).await;
    assert_error(&(status, refused), 422, "field", "file");
    let (status, refused) = upload(&app, &lan, "to.jpg", vec![0xFF; 8 * 1024 * 1024 + 1]).await;
    assert_error(&(status, refused), 413, "code", "payload_too_large");
    let (status, _) = upload(&app, &bot, "x.png", PNG.to_vec()).await;
    assert_eq!(status, 403);

    let (status, picture) = upload(&app, &lan, "C:\\Ảnh\\áo xanh.png", PNG.to_vec()).await;
    assert_eq!(status, 200, "{picture}");
    let picture = &picture["data"];
    assert_eq!(
        (&picture["name"], &picture["kind"], &picture["content_type"]),
        (&json!("áo xanh.png"), &json!("image"), &json!("image/png"))
    );
    let url = picture["url"].as_str().expect("url").to_owned();
    // Before it is sent, only its uploader reads it.
    assert_eq!(download(&app, &minh, &url).await.0, 404);
    assert_eq!(download(&app, &bot, &url).await.0, 404);
    let (status, content_type, bytes) = download(&app, &lan, &url).await;
    assert_eq!(
        (status, content_type.as_str(), bytes.as_slice()),
        (200, "image/png", PNG)
    );

    // Minh cannot send Lan's file; Lan sends it, with no text.
    let body = json!({"conversation_id": conversation, "attachment_ids": [picture["id"]]});
    let theirs = app
        .post("/api/send_message_from_crm", &minh, body.clone())
        .await;
    assert_error(&theirs, 422, "field", "attachment_ids[0]");
    let mut bot_socket = app.socket(&bot).await;
    let (status, sent) = app.post("/api/send_message_from_crm", &lan, body).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["data"]["message"]["attachments"][0]["url"], json!(url));

    // The bot's command names the file; the bot downloads it with its own token.
    let command = next_named(&mut bot_socket, "send_message_command").await;
    assert_eq!(
        command["attachments"],
        json!([{"type": "image", "url": url, "name": "áo xanh.png", "content_type": "image/png", "size": PNG.len()}])
    );
    assert_eq!(command["text"], "");
    let (status, _, bytes) = download(&app, &bot, &url).await;
    assert_eq!((status, bytes.as_slice()), (200, PNG));
    // Another page's bot, and an agent who may not see the page, are told it does not exist.
    assert_eq!(download(&app, &other_bot, &url).await.0, 404);
    let (status, _) = app
        .put(
            "/api/fb_accounts/page1/access",
            &admin,
            json!({"user_ids": [lan_id(&app, &lan).await]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(download(&app, &minh, &url).await.0, 404);
    assert_eq!(download(&app, &lan, &url).await.0, 200);

    // A file goes with one reply only.
    let again = app
        .post(
            "/api/send_message_from_crm",
            &lan,
            json!({"conversation_id": conversation, "text": "lại", "attachment_ids": [picture["id"]]}),
        )
        .await;
    assert_error(&again, 422, "field", "attachment_ids[0]");
}

async fn lan_id(app: &TestSystem, token: &str) -> i64 {
    let (_, me) = app.get("/api/auth/me", token).await;
    me["data"]["user"]["id"].as_i64().expect("id")
}
