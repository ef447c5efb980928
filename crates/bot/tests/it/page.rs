//! The `page` driver against a fake Graph API that follows Meta's documented formats (Conversations
//! API paging, Send API, page feed and photos, the error object, the usage headers), with the real
//! receiver and sender: signed webhooks in, tampered ones refused, backfill without duplicates, the
//! messaging window, token expiry, and rate-limit backoff.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_bot::Driver;
use switchboard_bot::page::{PageDriver, PageOptions, TokenSource};
use switchboard_domain::UnixMillis;
use switchboard_domain::encoding::signature;
use switchboard_storage::{AccountChanges, AccountKind, MessageView, PostView};
use switchboard_testkit::bot::{ACCOUNT, RunningBot, System};
use switchboard_testkit::eventually;

const APP_SECRET: &str = "app secret for tests";
const VERIFY_TOKEN: &str = "verify me";
const GOOD_TOKEN: &str = "EAAB-good";
const HOUR: i64 = 3_600_000;

/// One customer's conversation on the fake page: (message id, written by the customer?, text, age in ms).
#[derive(Clone)]
struct FakeConversation {
    id: String,
    customer: (String, String),
    messages: Vec<(String, bool, String, i64)>,
}

#[derive(Default)]
struct Fake {
    base: String,
    /// Tokens Graph accepts; anything else gets code 190.
    valid_tokens: Vec<String>,
    conversations: Vec<FakeConversation>,
    /// Calls to answer with a rate-limit error before succeeding again.
    rate_limited_calls: u32,
    /// Only calls whose path ends with this meet the rate limit (empty: every call). A test aims the
    /// limit at the call it watches: the bot's own polls may come first and would take it.
    rate_limited_path: &'static str,
    /// What the rate-limit answer's usage header gives as `estimated_time_to_regain_access`.
    regain_minutes: u32,
    /// Every call, in order.
    calls: Vec<Call>,
    next_id: u64,
    /// Comments deleted on Facebook: acting on one is Graph's "does not exist" error.
    deleted_comments: Vec<String>,
    /// The page's posts, newest first, each with its comments (newest first).
    posts: Vec<FakePost>,
}

/// A post of the fake page and its comments: (comment id, author id, author name, text, age in ms,
/// parent comment).
#[derive(Clone, Default)]
struct FakePost {
    id: String,
    message: String,
    comments: Vec<(String, String, String, String, i64, Option<String>)>,
}

/// A request the fake received.
#[derive(Clone)]
struct Call {
    path: String,
    body: Value,
    at: Instant,
}

type Shared = Arc<Mutex<Fake>>;

fn graph_time(age_ms: i64) -> String {
    // Graph's own format: no colon in the offset.
    let at = UnixMillis(UnixMillis::now().0 - age_ms).to_rfc3339();
    let at = at
        .split('.')
        .next()
        .unwrap_or(&at)
        .trim_end_matches('Z')
        .to_owned();
    format!("{at}+0000")
}

fn graph_error(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        axum::Json(
            json!({"error": {"message": message, "type": "OAuthException", "code": code,
            "error_subcode": 463, "fbtrace_id": "AbCdEf123"}}),
        ),
    )
        .into_response()
}

/// Records the call and applies the token and rate-limit rules every Graph endpoint shares.
fn gate(
    fake: &mut Fake,
    path: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: Value,
) -> Option<Response> {
    fake.calls.push(Call {
        path: path.into(),
        body,
        at: Instant::now(),
    });
    // Graph takes the token as `access_token` or as `Authorization: Bearer`.
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let token = bearer
        .or_else(|| query.get("access_token").cloned())
        .unwrap_or_default();
    if !fake.valid_tokens.contains(&token) {
        return Some(graph_error(
            StatusCode::BAD_REQUEST,
            190,
            "Error validating access token: Session has expired.",
        ));
    }
    if fake.rate_limited_calls > 0 && path.ends_with(fake.rate_limited_path) {
        fake.rate_limited_calls -= 1;
        let mut response = graph_error(StatusCode::BAD_REQUEST, 32, "Page request limit reached");
        response.headers_mut().insert(
            "x-business-use-case-usage",
            format!(r#"{{"{ACCOUNT}":[{{"type":"pages","call_count":100,"total_cputime":30,"total_time":40,"estimated_time_to_regain_access":{}}}]}}"#, fake.regain_minutes)
                .parse()
                .expect("header"),
        );
        return Some(response);
    }
    None
}

async fn node(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Path((_version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut fake = fake.lock().expect("lock");
    if let Some(refused) = gate(&mut fake, &format!("/{id}"), &headers, &query, Value::Null) {
        return refused;
    }
    let name = fake
        .conversations
        .iter()
        .find(|c| c.customer.0 == id)
        .map(|c| c.customer.1.clone());
    match name {
        Some(name) => axum::Json(json!({"name": name, "id": id})).into_response(),
        None => graph_error(StatusCode::BAD_REQUEST, 100, "Unsupported get request"),
    }
}

/// Graph's answer to an object that is gone (error 100, subcode 33), as for a deleted comment.
fn does_not_exist(id: &str) -> Response {
    graph_error(
        StatusCode::BAD_REQUEST,
        100,
        &format!(
            "(#100) Unsupported post request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"
        ),
    )
}

/// `POST /{comment-id}` with `is_hidden`: hides or shows a comment again.
async fn node_post(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Path((_version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let fields = serde_urlencoded_like(&body);
    let mut fake = fake.lock().expect("lock");
    if let Some(refused) = gate(
        &mut fake,
        &format!("/{id}"),
        &headers,
        &query,
        json!(fields),
    ) {
        return refused;
    }
    if fake.deleted_comments.contains(&id) {
        return does_not_exist(&id);
    }
    match fields.get("is_hidden").map(String::as_str) {
        Some("true" | "false") => axum::Json(json!({"success": true})).into_response(),
        _ => graph_error(
            StatusCode::BAD_REQUEST,
            100,
            "(#100) Param is_hidden must be a boolean",
        ),
    }
}

/// `DELETE /{comment-id}`.
async fn node_delete(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Path((_version, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut fake = fake.lock().expect("lock");
    if let Some(refused) = gate(
        &mut fake,
        &format!("/{id}"),
        &headers,
        &query,
        json!("DELETE"),
    ) {
        return refused;
    }
    if fake.deleted_comments.contains(&id) {
        return does_not_exist(&id);
    }
    fake.deleted_comments.push(id);
    axum::Json(json!({"success": true})).into_response()
}

async fn edge_get(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Path((version, id, edge)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let path = format!("/{id}/{edge}");
    let mut fake = fake.lock().expect("lock");
    if let Some(refused) = gate(&mut fake, &path, &headers, &query, Value::Null) {
        return refused;
    }
    let token = query.get("access_token").cloned().unwrap_or_default();
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(25);
    let after: usize = query.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let base = fake.base.clone();
    let page = |items: Vec<Value>, total: usize| {
        let mut paging = json!({"cursors": {"before": after.to_string(), "after": (after + items.len()).to_string()}});
        if after + items.len() < total {
            let fields = query.get("fields").cloned().unwrap_or_default();
            paging["next"] = json!(format!(
                "{base}/{version}/{id}/{edge}?access_token={token}&fields={fields}&limit={limit}&after={}",
                after + items.len()
            ));
        }
        axum::Json(json!({"data": items, "paging": paging})).into_response()
    };
    match edge.as_str() {
        "conversations" if id == ACCOUNT => {
            let mut all: Vec<&FakeConversation> = fake.conversations.iter().collect();
            let newest =
                |c: &FakeConversation| c.messages.iter().map(|m| m.3).min().unwrap_or(i64::MAX);
            all.sort_by_key(|c| newest(c));
            let items = all
                .iter()
                .skip(after)
                .take(limit)
                .map(|c| {
                    json!({"id": c.id, "updated_time": graph_time(newest(c)),
                           "participants": {"data": [{"name": c.customer.1, "email": format!("{}@facebook.com", c.customer.0), "id": c.customer.0},
                                                     {"name": "Shop Hoa", "email": "shop@facebook.com", "id": ACCOUNT}]}})
                })
                .collect();
            page(items, all.len())
        }
        "messages" => {
            let Some(conversation) = fake.conversations.iter().find(|c| c.id == id) else {
                return graph_error(StatusCode::BAD_REQUEST, 100, "Unknown conversation");
            };
            let mut messages = conversation.messages.clone();
            messages.sort_by_key(|m| m.3); // newest first
            let items = messages
                .iter()
                .skip(after)
                .take(limit)
                .map(|(mid, from_customer, text, age)| {
                    let from = if *from_customer {
                        json!({"name": conversation.customer.1, "id": conversation.customer.0})
                    } else {
                        json!({"name": "Shop Hoa", "id": ACCOUNT})
                    };
                    json!({"id": mid, "created_time": graph_time(*age), "from": from, "message": text})
                })
                .collect();
            page(items, messages.len())
        }
        "posts" if id == ACCOUNT => {
            let items: Vec<Value> = fake
                .posts
                .iter()
                .take(limit)
                .map(|p| json!({"id": p.id, "message": p.message, "permalink_url": format!("https://www.facebook.com/{}", p.id),
                                "created_time": graph_time(3_600_000)}))
                .collect();
            let total = items.len();
            page(items, total)
        }
        "comments" => {
            let Some(post) = fake.posts.iter().find(|p| p.id == id) else {
                return graph_error(StatusCode::BAD_REQUEST, 100, "Unknown post");
            };
            let items: Vec<Value> = post
                .comments
                .iter()
                .skip(after)
                .take(limit)
                .map(|(cid, author, name, text, age, parent)| {
                    json!({"id": cid, "message": text, "from": {"id": author, "name": name}, "created_time": graph_time(*age),
                           "parent": {"id": parent.clone().unwrap_or_else(|| post.id.clone())}, "is_hidden": false})
                })
                .collect();
            let total = post.comments.len();
            page(items, total)
        }
        _ => graph_error(StatusCode::BAD_REQUEST, 100, "Unknown edge"),
    }
}

async fn edge_post(
    State(fake): State<Shared>,
    Path((_version, id, edge)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let parsed: Value = if content_type.starts_with("application/json") {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    } else if content_type.starts_with("multipart/form-data") {
        match upload_fields(&content_type, body).await {
            Ok(fields) => fields,
            Err(reason) => return graph_error(StatusCode::BAD_REQUEST, 100, &reason),
        }
    } else {
        let fields: HashMap<String, String> =
            serde_urlencoded_like(&String::from_utf8_lossy(&body));
        json!(fields)
    };
    let path = format!("/{id}/{edge}");
    let mut fake = fake.lock().expect("lock");
    if let Some(refused) = gate(&mut fake, &path, &headers, &query, parsed.clone()) {
        return refused;
    }
    fake.next_id += 1;
    let n = fake.next_id;
    match edge.as_str() {
        "messages" if parsed.get("filedata").is_some() => {
            // An upload (Send API, "attachment from file"): one attachment of a known type.
            let kind = parsed["message"]["attachment"]["type"].as_str();
            if parsed["recipient"]["id"].as_str().is_none()
                || !matches!(kind, Some("image" | "audio" | "video" | "file"))
                || parsed["message"]["attachment"]["payload"].is_null()
            {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    100,
                    "(#100) Upload attachment failure.",
                );
            }
            axum::Json(json!({"recipient_id": parsed["recipient"]["id"], "message_id": format!("m_sent_{n}")})).into_response()
        }
        "messages" if parsed["recipient"]["comment_id"].is_string() => {
            // A private reply: Facebook picks the commenter's Messenger id and answers with it.
            let comment = parsed["recipient"]["comment_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if fake.deleted_comments.contains(&comment) {
                return does_not_exist(&comment);
            }
            axum::Json(json!({"recipient_id": format!("psid_of_{comment}"), "message_id": format!("m_sent_{n}")})).into_response()
        }
        "messages" => {
            if parsed["recipient"]["id"].as_str().is_none()
                || parsed["message"]["text"].as_str().is_none()
            {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    100,
                    "(#100) The parameter recipient is required",
                );
            }
            axum::Json(json!({"recipient_id": parsed["recipient"]["id"], "message_id": format!("m_sent_{n}")})).into_response()
        }
        "feed" => axum::Json(json!({"id": format!("{ACCOUNT}_{n}")})).into_response(),
        "comments" if fake.deleted_comments.contains(&id) => does_not_exist(&id),
        "comments" => match parsed["message"].as_str() {
            Some(_) => axum::Json(json!({"id": format!("{id}_reply{n}")})).into_response(),
            None => graph_error(
                StatusCode::BAD_REQUEST,
                100,
                "(#100) The parameter message is required",
            ),
        },
        "photos" => {
            axum::Json(json!({"id": format!("photo_{n}"), "post_id": format!("{ACCOUNT}_{n}")}))
                .into_response()
        }
        _ => graph_error(StatusCode::BAD_REQUEST, 100, "Unknown edge"),
    }
}

/// A `multipart/form-data` body as the fake records it: each text field parsed as JSON when it is
/// (`recipient`, `message`), else as text; the file (`filedata`) as its name, type and size.
async fn upload_fields(content_type: &str, body: bytes::Bytes) -> Result<Value, String> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| e.to_string())?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut fields = serde_json::Map::new();
    while let Some(field) = form.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        let bytes = field.bytes().await.map_err(|e| e.to_string())?;
        let value = match file_name {
            Some(file_name) => {
                json!({"filename": file_name, "content_type": content_type, "size": bytes.len(), "bytes": String::from_utf8_lossy(&bytes)})
            }
            None => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            }
        };
        fields.insert(name, value);
    }
    Ok(Value::Object(fields))
}

/// `a=1&b=x%20y` → map (enough for the fields reqwest's `form` writes).
fn serde_urlencoded_like(body: &str) -> HashMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{body}"))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

async fn start_fake(fake: Fake) -> (String, Shared) {
    let shared: Shared = Arc::new(Mutex::new(fake));
    let app = Router::new()
        .route(
            "/{version}/{id}",
            get(node).post(node_post).delete(node_delete),
        )
        .route("/{version}/{id}/{edge}", get(edge_get).post(edge_post))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    shared.lock().expect("lock").base = base.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, shared)
}

/// The conversation `t_{key}` with the customer `psid_{key}` called `name`.
fn conversation(key: &str, name: &str, messages: &[(&str, bool, &str, i64)]) -> FakeConversation {
    FakeConversation {
        id: format!("t_{key}"),
        customer: (format!("psid_{key}"), name.into()),
        messages: messages
            .iter()
            .map(|(m, c, t, a)| ((*m).into(), *c, (*t).into(), *a))
            .collect(),
    }
}

/// The calls the fake received on the paths `path` accepts, in order.
fn calls_to(fake: &Shared, path: impl Fn(&str) -> bool) -> Vec<Call> {
    let fake = fake.lock().expect("lock");
    fake.calls
        .iter()
        .filter(|c| path(&c.path))
        .cloned()
        .collect()
}

/// The CRM conversation of the message Graph calls `mid`.
fn conversation_of(messages: &[MessageView], mid: &str) -> i64 {
    messages
        .iter()
        .find(|m| m.message_id.as_deref() == Some(mid))
        .unwrap_or_else(|| panic!("no message {mid}"))
        .conversation_id
}

/// A page account whose stored token is `token`, and a fake Graph API with `conversations` that
/// accepts only [`GOOD_TOKEN`]: the system, the fake's base URL, and the fake.
async fn page_with(token: &str, conversations: Vec<FakeConversation>) -> (System, String, Shared) {
    let system = System::start(AccountKind::Page).await;
    with_page_token(&system, token).await;
    let (graph, fake) = start_fake(Fake {
        valid_tokens: vec![GOOD_TOKEN.into()],
        conversations,
        ..Fake::default()
    })
    .await;
    (system, graph, fake)
}

struct PageBot {
    driver: PageDriver,
    bot: RunningBot,
}

async fn start_page_bot(system: &System, graph: &str, backfill_days: u32) -> PageBot {
    let http = switchboard_bot::http_client(Duration::from_secs(5)).expect("client");
    let account = switchboard_bot::fetch_account(
        &http,
        &system.sender,
        &system.bot_token,
        &system.bot_config().backoff,
    )
    .await
    .expect("account");
    let options = PageOptions {
        graph_url: graph.into(),
        api_version: "v23.0".into(),
        app_secret: APP_SECRET.into(),
        verify_token: VERIFY_TOKEN.into(),
        webhook_listen: "127.0.0.1:0".parse().expect("addr"),
        backfill_days,
        backfill_interval: Duration::ZERO,
        rate_limit_pause: Duration::from_millis(300),
        retries: 4,
        backoff: system.bot_config().backoff,
        token_recheck: Duration::from_millis(200),
    };
    let source = TokenSource {
        http: http.clone(),
        sender_url: system.sender.clone(),
        bot_token: system.bot_token.clone(),
    };
    let driver = PageDriver::new(&account, options, http, Some(source)).expect("driver");
    let bot = system.run_bot(Driver::Page(driver.clone()));
    eventually(10, "the webhook listening", || async {
        driver.webhook_addr()
    })
    .await;
    PageBot { driver, bot }
}

impl PageBot {
    fn webhook(&self) -> String {
        format!(
            "http://{}/webhook",
            self.driver.webhook_addr().expect("addr")
        )
    }

    async fn stop(self) {
        self.bot.stop().await;
    }
}

async fn with_page_token(system: &System, token: &str) {
    let mut changes = AccountChanges::default();
    changes.credentials.page_access_token = Some(token.into());
    system
        .store
        .update_account(ACCOUNT, changes.checked().expect("valid"), &system.cipher)
        .await
        .expect("token stored");
}

/// A POST of `body` to `url`, signed with the app secret as Meta signs its webhooks.
fn signed(http: &reqwest::Client, url: &str, body: String) -> reqwest::RequestBuilder {
    http.post(url)
        .header(
            "x-hub-signature-256",
            signature(APP_SECRET, body.as_bytes()),
        )
        .body(body)
}

/// What an admin posts on the page: `content`, no image.
fn text_post(content: &str) -> Value {
    json!({"user_id_chat": ACCOUNT, "content": content})
}

/// Asserts that `post` failed for a reason that says `reason`.
fn assert_failed_with(post: &PostView, reason: &str) {
    assert!(
        post.error.as_deref().is_some_and(|e| e.contains(reason)),
        "{:?}",
        post.error
    );
}

fn webhook_message(customer: &str, mid: &str, text: &str) -> Value {
    json!({"object": "page", "entry": [{"id": ACCOUNT, "time": UnixMillis::now().0, "messaging": [
        {"sender": {"id": customer}, "recipient": {"id": ACCOUNT}, "timestamp": UnixMillis::now().0,
         "message": {"mid": mid, "text": text}}]}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_are_taken_and_tampered_ones_refused() {
    let (system, graph, _fake) =
        page_with(GOOD_TOKEN, vec![conversation("9", "Lê Thị Hà", &[])]).await;
    let bot = start_page_bot(&system, &graph, 7).await;
    let http = reqwest::Client::new();

    // The subscription handshake.
    let verify = |token: &str| {
        http.get(bot.webhook())
            .query(&[
                ("hub.mode", "subscribe"),
                ("hub.verify_token", token),
                ("hub.challenge", "1158201444"),
            ])
            .send()
    };
    let answer = verify(VERIFY_TOKEN).await.expect("verify");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.expect("text"), "1158201444");
    assert_eq!(verify("wrong").await.expect("verify").status(), 403);

    // A signed delivery is taken; the customer's name comes from Graph.
    let body = webhook_message("psid_9", "m_hook_1", "Shop ơi còn hàng không?").to_string();
    let taken = signed(&http, &bot.webhook(), body.clone())
        .header("content-type", "application/json")
        .send()
        .await
        .expect("post");
    assert_eq!(taken.status(), 200);
    let messages = eventually(10, "the webhook's message in the CRM", || async {
        let messages = system.messages().await;
        (!messages.is_empty()).then_some(messages)
    })
    .await;
    assert_eq!(messages[0].text, "Shop ơi còn hàng không?");
    let conversations = system
        .store
        .conversations(ACCOUNT, Default::default(), None, 10)
        .await
        .expect("list");
    assert_eq!(conversations.items[0].participant_name, "Lê Thị Hà");

    // The same signature on a changed body, no signature, a signature with another secret: refused.
    let tampered = body.replace("còn hàng", "hết hàng");
    for (payload, header, status) in [
        (
            tampered.clone(),
            Some(signature(APP_SECRET, body.as_bytes())),
            403,
        ),
        (tampered.clone(), None, 401),
        (
            tampered.clone(),
            Some(signature("another secret", tampered.as_bytes())),
            403,
        ),
    ] {
        let mut request = http
            .post(bot.webhook())
            .header("content-type", "application/json")
            .body(payload);
        if let Some(header) = header {
            request = request.header("x-hub-signature-256", header);
        }
        assert_eq!(request.send().await.expect("post").status(), status);
    }
    // A signed body that is not a page webhook is a 400 naming the problem.
    let other = json!({"object": "instagram", "entry": []}).to_string();
    let answer = signed(&http, &bot.webhook(), other)
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), 400);
    // Proving that nothing arrives takes a window of time: the wait is the thing under test.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        system.messages().await.len(),
        1,
        "nothing from refused deliveries"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_fills_gaps_without_duplicates() {
    let (system, graph, fake) = page_with(
        GOOD_TOKEN,
        vec![
            conversation(
                "1",
                "Nguyễn Văn An",
                &[
                    ("m_1", true, "Chào shop", 5 * HOUR),
                    ("m_2", false, "Dạ shop chào bạn", 5 * HOUR - 60_000),
                    ("m_3", true, "Áo này còn size M không?", 4 * HOUR),
                    ("m_4", false, "Dạ còn ạ", 4 * HOUR - 60_000),
                    ("m_5", true, "Cho mình 1 cái", 3 * HOUR),
                ],
            ),
            conversation(
                "2",
                "Trần Thu Trang",
                &[("m_6", true, "Ship Hà Nội bao lâu?", 2 * HOUR)],
            ),
            // Older than the first backfill reads: left alone.
            conversation(
                "3",
                "Phạm Minh Quân",
                &[("m_old", true, "Hello", 20 * 24 * HOUR)],
            ),
        ],
    )
    .await;
    // Small pages, so paging through `paging.next` is exercised.
    let bot = start_page_bot(&system, &graph, 7).await;
    let messages = system.messages_reaching(6).await;
    // t_1's messages, in the order the CRM stored them (its ids): the bot pushed them oldest first.
    let t1 = conversation_of(&messages, "m_1");
    let mut t1_messages: Vec<_> = messages
        .iter()
        .filter(|m| m.conversation_id == t1)
        .collect();
    t1_messages.sort_by_key(|m| m.id);
    let texts: Vec<&str> = t1_messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Chào shop",
            "Dạ shop chào bạn",
            "Áo này còn size M không?",
            "Dạ còn ạ",
            "Cho mình 1 cái"
        ]
    );
    assert!(
        messages
            .iter()
            .any(|m| m.text == "Dạ còn ạ" && m.direction == "out")
    );

    // A webhook repeats a backfilled message and brings a new one; then the bot is down while the
    // customer writes again, and the next start's backfill fills the gap.
    let repeat = webhook_message("psid_1", "m_5", "Cho mình 1 cái").to_string();
    let fresh = webhook_message("psid_1", "m_7", "Khi nào giao ạ?").to_string();
    for body in [repeat, fresh] {
        let answer = signed(&reqwest::Client::new(), &bot.webhook(), body)
            .send()
            .await
            .expect("post");
        assert_eq!(answer.status(), 200);
    }
    system.messages_reaching(7).await;
    bot.stop().await;

    {
        let mut fake = fake.lock().expect("lock");
        let t1 = fake
            .conversations
            .iter_mut()
            .find(|c| c.id == "t_1")
            .expect("t_1");
        t1.messages
            .push(("m_7".into(), true, "Khi nào giao ạ?".into(), 60_000));
        t1.messages
            .push(("m_8".into(), true, "Shop ơi?".into(), 30_000));
    }
    let bot = start_page_bot(&system, &graph, 7).await;
    let messages = eventually(10, "the gap filled", || async {
        let messages = system.messages().await;
        messages
            .iter()
            .any(|m| m.text == "Shop ơi?")
            .then_some(messages)
    })
    .await;
    assert_eq!(
        messages.len(),
        8,
        "every message once: {:?}",
        messages.iter().map(|m| &m.text).collect::<Vec<_>>()
    );
    let ids: std::collections::HashSet<_> = messages.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(ids.len(), 8);
    // The second backfill read only what was new since the first (conversations updated since then).
    let reads_of_t2 = calls_to(&fake, |path| path == "/t_2/messages").len();
    assert_eq!(
        reads_of_t2, 1,
        "t_2 did not change, so it is not read again"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_follow_the_messaging_window() {
    // One customer message each, written 2 hours, 3 days and 10 days ago.
    let conversations = [
        ("recent", "Vũ Ngọc Lan", "m_r", "Còn hàng không?", 2 * HOUR),
        ("days", "Đỗ Gia Long", "m_d", "Shop ơi", 3 * 24 * HOUR),
        ("old", "Bùi Thanh Mai", "m_o", "Hi shop", 10 * 24 * HOUR),
    ]
    .map(|(key, name, mid, text, age)| conversation(key, name, &[(mid, true, text, age)]));
    let (system, graph, fake) = page_with(GOOD_TOKEN, conversations.into()).await;
    let bot = start_page_bot(&system, &graph, 30).await;
    let messages = system.messages_reaching(3).await;
    let session = system.login().await;
    let mut results = Vec::new();
    for mid in ["m_r", "m_d", "m_o"] {
        let sent = system
            .reply(
                &session,
                conversation_of(&messages, mid),
                "Dạ shop trả lời ạ",
            )
            .await;
        let id = sent["message"]["id"].as_i64().expect("id");
        let done = eventually(10, "the reply's outcome", || async {
            let message = system.message(id).await;
            (message.status != "queued").then_some(message)
        })
        .await;
        results.push(done);
    }
    assert_eq!(results[0].status, "sent");
    assert_eq!(results[1].status, "sent");
    assert_eq!(results[2].status, "failed");
    assert!(
        results[2]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("7 days")),
        "{:?}",
        results[2].error
    );

    let sends: Vec<Value> = calls_to(&fake, |path| path == format!("/{ACCOUNT}/messages"))
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert_eq!(sends.len(), 2, "no call Facebook would refuse");
    assert_eq!(sends[0]["messaging_type"], "RESPONSE");
    assert_eq!(sends[0]["recipient"]["id"], "psid_recent");
    assert_eq!(sends[1]["messaging_type"], "MESSAGE_TAG");
    assert_eq!(sends[1]["tag"], "HUMAN_AGENT");
    assert!(
        sends[0]["message"]["metadata"]
            .as_str()
            .is_some_and(|m| m.starts_with("switchboard:"))
    );
    assert_eq!(results[0].message_id.as_deref(), Some("m_sent_1"));
    bot.stop().await;
}

/// An agent attaches a price list to a reply: the bot downloads it from the sender with its own
/// token and uploads it to the Send API as a file (multipart, `filedata`), then sends the text.
#[tokio::test]
async fn a_reply_with_a_file_uploads_it_to_facebook_before_the_text() {
    const PDF: &[u8] = b"%PDF-1.7 bang gia si thang 12";
    let (system, graph, fake) = page_with(
        GOOD_TOKEN,
        vec![conversation(
            "file",
            "Vũ Ngọc Lan",
            &[("m_f", true, "Cho em bảng giá sỉ", HOUR)],
        )],
    )
    .await;
    let bot = start_page_bot(&system, &graph, 31).await;
    let messages = system.messages_reaching(1).await;
    let session = system.login().await;
    let uploaded: Value = system
        .http
        .post(format!("{}/api/attachments", system.sender))
        .query(&[("name", "Bảng giá sỉ.pdf")])
        .bearer_auth(&session)
        .body(PDF.to_vec())
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    let file_id = uploaded["data"]["id"].as_i64().expect("file id");
    let (status, sent) = system
        .api()
        .call(
            "POST",
            "/api/send_message_from_crm",
            Some(&session),
            Some(json!({"conversation_id": conversation_of(&messages, "m_f"),
                        "text": "Dạ em gửi bảng giá ạ", "attachment_ids": [file_id]})),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let id = sent["data"]["message"]["id"].as_i64().expect("id");
    let done = eventually(10, "the reply's outcome", || async {
        let message = system.message(id).await;
        (message.status != "queued").then_some(message)
    })
    .await;
    assert_eq!(done.status, "sent", "{:?}", done.error);

    let sends: Vec<Value> = calls_to(&fake, |path| path == format!("/{ACCOUNT}/messages"))
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert_eq!(sends.len(), 2, "{sends:?}");
    let upload = &sends[0];
    assert_eq!(upload["recipient"]["id"], "psid_file");
    assert_eq!(upload["messaging_type"], "RESPONSE");
    assert_eq!(upload["message"]["attachment"]["type"], "file");
    assert_eq!(
        (
            &upload["filedata"]["filename"],
            &upload["filedata"]["content_type"],
            &upload["filedata"]["bytes"]
        ),
        (
            &json!("Bảng giá sỉ.pdf"),
            &json!("application/pdf"),
            &json!(String::from_utf8_lossy(PDF))
        )
    );
    assert_eq!(sends[1]["message"]["text"], "Dạ em gửi bảng giá ạ");
    // The message is known by the text's id, the last one Facebook gave.
    assert_eq!(done.message_id.as_deref(), Some("m_sent_2"));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_asks_for_a_new_one_and_resumes_with_it() {
    let (system, graph, fake) = page_with(
        "EAAB-expired",
        vec![conversation(
            "1",
            "Nguyễn Văn An",
            &[("m_1", true, "Chào shop", HOUR)],
        )],
    )
    .await;
    let bot = start_page_bot(&system, &graph, 7).await;
    let account = eventually(10, "the account marked as needing a new login", || async {
        let account = system.account().await;
        account.needs_login.then_some(account)
    })
    .await;
    assert!(
        account.bot_status_message.contains("code 190"),
        "{}",
        account.bot_status_message
    );

    // A post while the token is refused fails at once with a reason an admin can act on.
    let session = system.login().await;
    let post_id = system.post(&session, text_post("Sale 50%")).await;
    let failed = system.post_reaching(post_id, "failed").await;
    assert_failed_with(&failed, "access token");
    let feed_calls = calls_to(&fake, |path| path.ends_with("/feed")).len();
    assert_eq!(feed_calls, 0, "no call with a token Facebook refused");

    // An admin stores a new token: the bot picks it up, says it is online, and backfills.
    with_page_token(&system, GOOD_TOKEN).await;
    eventually(10, "the account back online", || async {
        let account = system.account().await;
        (!account.needs_login && account.bot_status == "online").then_some(())
    })
    .await;
    // The history read with the new token.
    system.messages_reaching(1).await;
    let photo_id = system
        .post(&session, json!({"user_id_chat": ACCOUNT, "content": "Mẫu mới", "image_url": "https://cdn.example.vn/ao.jpg"}))
        .await;
    let posted = system.post_reaching(photo_id, "posted").await;
    assert!(
        posted
            .link
            .as_deref()
            .is_some_and(|l| l.starts_with("https://www.facebook.com/5550001_"))
    );
    let photos: Vec<Value> = calls_to(&fake, |path| path.ends_with("/photos"))
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert_eq!(
        photos,
        vec![json!({"url": "https://cdn.example.vn/ao.jpg", "caption": "Mẫu mới"})]
    );
    bot.stop().await;
}

/// A page bot with a good token against an empty fake page, once its first backfill made its one
/// call and it said it is online: whatever Graph answers next meets what the test does next.
async fn settled_page_bot() -> (System, Shared, PageBot) {
    let (system, graph, fake) = page_with(GOOD_TOKEN, Vec::new()).await;
    let bot = start_page_bot(&system, &graph, 7).await;
    eventually(10, "the first backfill", || async {
        (!fake.lock().expect("lock").calls.is_empty()).then_some(())
    })
    .await;
    system.bot_status_reaching("online").await;
    (system, fake, bot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_make_it_back_off_then_resume() {
    let (system, fake, bot) = settled_page_bot().await;
    {
        let mut fake = fake.lock().expect("lock");
        fake.rate_limited_calls = 2;
        fake.rate_limited_path = "/feed";
    }

    let session = system.login().await;
    let post_id = system.post(&session, text_post("Khuyến mãi")).await;
    system.post_reaching(post_id, "posted").await;
    let attempts: Vec<Instant> = calls_to(&fake, |path| path.ends_with("/feed"))
        .into_iter()
        .map(|c| c.at)
        .collect();
    assert_eq!(attempts.len(), 3, "two refused, one accepted");
    // The pause doubles while the limit lasts: 300 ms, then 600 ms.
    assert!(
        attempts[1] - attempts[0] >= Duration::from_millis(290),
        "{:?}",
        attempts[1] - attempts[0]
    );
    assert!(
        attempts[2] - attempts[1] >= Duration::from_millis(590),
        "{:?}",
        attempts[2] - attempts[1]
    );
    // The console was told, and told again when it was over. The last status travels through the
    // bot's spool and the receiver after the post is done: wait for it.
    let told = eventually(10, "online announced after rate_limited", || async {
        let statuses = system.store.events_after(0, 1000).await.expect("events");
        let told: Vec<String> = statuses
            .iter()
            .filter(|e| e.kind.as_str() == "bot_status")
            .filter_map(|e| serde_json::from_str::<Value>(e.payload.get()).ok())
            .filter_map(|p| p["status"].as_str().map(str::to_owned))
            .collect();
        let limited = told.iter().position(|s| s == "rate_limited")?;
        told[limited..]
            .iter()
            .any(|s| s == "online")
            .then_some(told)
    })
    .await;
    let limited = told
        .iter()
        .position(|s| s == "rate_limited")
        .expect("rate_limited announced");
    assert!(told[limited..].iter().any(|s| s == "online"), "{told:?}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_rate_limit_fails_a_post_at_once_with_the_reason() {
    let (system, fake, bot) = settled_page_bot().await;
    {
        let mut fake = fake.lock().expect("lock");
        fake.rate_limited_calls = 1;
        fake.rate_limited_path = "/feed";
        fake.regain_minutes = 30;
    }
    let session = system.login().await;
    let started = Instant::now();
    let post_id = system.post(&session, text_post("Khuyến mãi")).await;
    let failed = system.post_reaching(post_id, "failed").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it did not wait out the limit"
    );
    assert_failed_with(&failed, "30 more minutes");
    system.bot_status_reaching("rate_limited").await;
    bot.stop().await;
}

/// A customer's comment under the page's post, as Meta's `feed` webhook brings it.
fn webhook_comment(comment_id: &str, text: &str) -> Value {
    let post = format!("{ACCOUNT}_555");
    json!({"object": "page", "entry": [{"id": ACCOUNT, "time": UnixMillis::now().0, "changes": [
        {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": comment_id, "post_id": post,
          "parent_id": post, "from": {"id": "9988", "name": "Trần Văn Đức"}, "message": text,
          "created_time": UnixMillis::now().0 / 1000,
          "post": {"id": post, "permalink_url": "https://www.facebook.com/shop/posts/555"}}}]}]})
}

/// A comment under a post reaches the inbox as its author's conversation; an agent's answer goes
/// under it, hiding and deleting go to Graph, and Facebook's refusal (a comment deleted there) is
/// the outcome the agent sees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_are_answered_hidden_and_deleted_on_facebook() {
    let (system, graph, fake) = page_with(GOOD_TOKEN, Vec::new()).await;
    let bot = start_page_bot(&system, &graph, 0).await;
    let http = reqwest::Client::new();
    for (id, text) in [
        ("555_1", "Giá bao nhiêu ạ?"),
        ("555_2", "Số em 0912 345 678"),
    ] {
        let body = webhook_comment(id, text).to_string();
        let taken = signed(&http, &bot.webhook(), body)
            .header("content-type", "application/json")
            .send()
            .await
            .expect("post");
        assert_eq!(taken.status(), 200);
    }
    let comments = system.messages_reaching(2).await;
    let conversation = system
        .store
        .conversation(comments[0].conversation_id)
        .await
        .expect("conversation");
    assert_eq!(
        conversation.thread_id,
        format!("comments:{ACCOUNT}_555:9988")
    );
    assert_eq!(conversation.participant_name, "Trần Văn Đức");
    let post = system
        .store
        .feed_post(ACCOUNT, &format!("{ACCOUNT}_555"))
        .await
        .expect("post");
    assert_eq!(
        post.and_then(|p| p.permalink).as_deref(),
        Some("https://www.facebook.com/shop/posts/555")
    );

    let session = system.login().await;
    let api = system.api();
    let (status, answer) = api
        .call(
            "POST",
            &format!("/api/comments/{}/reply", comments[0].id),
            Some(&session),
            Some(json!({"text": "Dạ 450k ạ"})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let reply_id = answer["data"]["message"]["id"].as_i64().expect("id");
    let reply = eventually(10, "the answer posted", || async {
        let message = system.message(reply_id).await;
        (message.status != "queued").then_some(message)
    })
    .await;
    assert_eq!(
        (reply.status.as_str(), reply.message_id.as_deref()),
        ("sent", Some("555_1_reply1"))
    );
    let posted = calls_to(&fake, |path| path == "/555_1/comments");
    assert_eq!(posted[0].body["message"], "Dạ 450k ạ");

    let (status, _) = api
        .call(
            "POST",
            &format!("/api/comments/{}/moderation", comments[1].id),
            Some(&session),
            Some(json!({"action": "hide"})),
        )
        .await;
    assert_eq!(status, 200);
    eventually(10, "the comment hidden", || async {
        let comment = system.store.comment(comments[1].id).await.expect("comment");
        comment.comment.filter(|c| c.hidden && c.pending.is_none())
    })
    .await;
    assert_eq!(
        calls_to(&fake, |path| path == "/555_2")[0].body["is_hidden"],
        "true"
    );

    // A private reply: Facebook names the commenter's Messenger id, where the answer moves.
    let (status, answer) = api
        .call(
            "POST",
            &format!("/api/comments/{}/private_reply", comments[0].id),
            Some(&session),
            Some(json!({"text": "Chào bạn, shop gửi bảng giá"})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let private_id = answer["data"]["message"]["id"].as_i64().expect("id");
    let moved = eventually(10, "the private reply in Messenger", || async {
        let message = system.message(private_id).await;
        (message.status == "sent").then_some(message)
    })
    .await;
    let messenger = system
        .store
        .conversation(moved.conversation_id)
        .await
        .expect("messenger");
    assert_eq!(
        (
            messenger.thread_id.as_str(),
            messenger.participant_name.as_str()
        ),
        ("psid_of_555_1", "Trần Văn Đức")
    );
    let sent = calls_to(&fake, |path| path == format!("/{ACCOUNT}/messages"));
    assert_eq!(sent[0].body["recipient"]["comment_id"], "555_1");
    assert!(
        sent[0].body["message"]["metadata"]
            .as_str()
            .is_some_and(|m| m.starts_with("switchboard:"))
    );
    let linked = system
        .store
        .conversation(comments[0].conversation_id)
        .await
        .expect("comments");
    assert_eq!(linked.linked_conversation_id, Some(messenger.id));

    // Deleted on Facebook meanwhile: the answer fails with Facebook's reason.
    fake.lock()
        .expect("lock")
        .deleted_comments
        .push("555_2".into());
    let (_, answer) = api
        .call(
            "POST",
            &format!("/api/comments/{}/reply", comments[1].id),
            Some(&session),
            Some(json!({"text": "Shop inbox bạn nhé"})),
        )
        .await;
    let failed_id = answer["data"]["message"]["id"].as_i64().expect("id");
    let failed = eventually(10, "the answer refused", || async {
        let message = system.message(failed_id).await;
        (message.status != "queued").then_some(message)
    })
    .await;
    assert_eq!(failed.status, "failed");
    assert!(
        failed
            .error
            .as_deref()
            .is_some_and(|e| e.contains("does not exist")),
        "{:?}",
        failed.error
    );
    let (status, _) = api
        .call(
            "POST",
            &format!("/api/comments/{}/moderation", comments[0].id),
            Some(&session),
            Some(json!({"action": "delete"})),
        )
        .await;
    assert_eq!(status, 200);
    eventually(10, "the comment deleted", || async {
        let comment = system.store.comment(comments[0].id).await.expect("comment");
        comment.comment.filter(|c| c.deleted)
    })
    .await;
    bot.stop().await;
}

/// A bot that starts reads the comments of the page's latest posts since its last backfill: what came
/// while it was down reaches the inbox, each customer's under the post, the page's answers with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_comments_of_recent_posts_are_backfilled() {
    let system = System::start(AccountKind::Page).await;
    with_page_token(&system, GOOD_TOKEN).await;
    let post = format!("{ACCOUNT}_777");
    let comment =
        |id: &str, author: &str, name: &str, text: &str, age: i64, parent: Option<&str>| {
            (
                id.to_owned(),
                author.to_owned(),
                name.to_owned(),
                text.to_owned(),
                age,
                parent.map(str::to_owned),
            )
        };
    let (graph, _fake) = start_fake(Fake {
        valid_tokens: vec![GOOD_TOKEN.into()],
        posts: vec![FakePost {
            id: post.clone(),
            message: "Áo dài cách tân, giá 450k".into(),
            // Newest first, as Graph lists them with `order=reverse_chronological`.
            comments: vec![
                comment(
                    "777_3",
                    ACCOUNT,
                    "Shop Hoa",
                    "Dạ còn ạ",
                    HOUR,
                    Some("777_2"),
                ),
                comment(
                    "777_2",
                    "8877",
                    "Đỗ Gia Long",
                    "Còn size M không?",
                    2 * HOUR,
                    None,
                ),
                comment(
                    "777_1",
                    "8866",
                    "Bùi Thanh Mai",
                    "Đẹp quá",
                    30 * 24 * HOUR,
                    None,
                ),
            ],
        }],
        ..Fake::default()
    })
    .await;
    let bot = start_page_bot(&system, &graph, 7).await;
    let messages = system.messages_reaching(2).await;
    let conversation = system
        .store
        .conversation(messages[0].conversation_id)
        .await
        .expect("conversation");
    assert_eq!(
        conversation.thread_id,
        format!("comments:{post}:8877"),
        "the 30-day-old comment stays out"
    );
    assert_eq!(
        messages
            .iter()
            .map(|m| (m.message_id.as_deref(), m.direction.as_str()))
            .collect::<Vec<_>>(),
        [(Some("777_2"), "in"), (Some("777_3"), "out")]
    );
    let preview = system
        .store
        .feed_post(ACCOUNT, &post)
        .await
        .expect("post")
        .expect("preview");
    assert_eq!(preview.text, "Áo dài cách tân, giá 450k");
    bot.stop().await;
}
