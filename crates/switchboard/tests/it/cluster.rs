//! Three nodes of the real binary (`serve`) on one PostgreSQL database, behind HAProxy with the shipped
//! `deploy/haproxy.cfg`: what one node accepts reaches clients of another, the first answer to a call
//! wins across nodes, and a node killed while consoles stream and a bot posts loses nothing and repeats
//! nothing. PostgreSQL only (SQLite is one node): on the SQLite run each test says it is skipped.

use crate::{SERVE, cli_on, login, next_named, start, switchboard_on};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;
use switchboard_sioclient::Client;
use switchboard_testkit::haproxy::Balancer;
use switchboard_testkit::process::Running;
use switchboard_testkit::{TestDir, db_count, eventually, postgres_or_skip};

/// Generous: two CPU burners may run beside the suite.
const WITHIN: Duration = Duration::from_secs(30);

/// Three `serve` nodes on one scratch schema, HAProxy in front, and the tokens the tests use.
struct Cluster {
    /// A, B and C; a killed node is `None`.
    nodes: Vec<Option<Running>>,
    balancer: Balancer,
    http: reqwest::Client,
    /// The bot of the account `page1`.
    bot: String,
    /// The phone system's token for the CTI webhook.
    pbx: String,
    /// An integrator's token: a console of the receiver's events.
    integrator: String,
    /// The admin's session (a console of the sender and the call center).
    admin: String,
    /// Dropped last: the nodes stop before their schema goes.
    dir: TestDir,
}

impl Cluster {
    /// `None` (skipped) without PostgreSQL or HAProxy.
    async fn start(test: &str) -> Option<Self> {
        if !postgres_or_skip(test) {
            return None;
        }
        let dir = TestDir::create().expect("test dir");
        // Migrations, the key and the tokens, once, before any node starts.
        let bot = cli_on(&dir, &["bots", "add", "page1"]);
        let pbx = cli_on(&dir, &["tokens", "add", "--pbx", "pbx"]);
        let integrator = cli_on(&dir, &["tokens", "add", "console"]);
        let nodes: Vec<Running> = (0..3).map(|_| node(&dir)).collect();
        let balancer = Balancer::start(dir.path(), &nodes.iter().collect::<Vec<_>>())?;
        let http = reqwest::Client::new();
        balancer.ready(&http).await;
        let admin = login(&http, &balancer.url("sender")).await;
        Some(Self {
            nodes: nodes.into_iter().map(Some).collect(),
            balancer,
            http,
            bot,
            pbx,
            integrator,
            admin,
            dir,
        })
    }

    /// The URL of `role` on node `index` (0 = A).
    fn node(&self, index: usize, role: &str) -> String {
        self.nodes[index]
            .as_ref()
            .expect("a living node")
            .url(role)
            .to_owned()
    }

    /// POSTs `body` to `url` as `token`: the status and the JSON answer (`Null` if none).
    async fn post(&self, url: &str, token: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("post");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// GETs `path` on `base` as the admin: the status and the JSON answer.
    async fn get(&self, base: &str, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{base}{path}"))
            .bearer_auth(&self.admin)
            .send()
            .await
            .expect("get");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json"))
    }

    /// The bot posts `ids` (one batch) in thread `t1` to the receiver at `receiver`.
    async fn ingest(&self, receiver: &str, ids: &[String]) -> (u16, Value) {
        self.post(
            &format!("{receiver}/api/bot/new_messages"),
            &self.bot,
            &batch(ids),
        )
        .await
    }
}

/// One `serve` node on the test's database, generous enough for a hundred answers at once from one
/// session, with calls that ring long enough never to move on during a test.
fn node(dir: &TestDir) -> Running {
    let mut command = switchboard_on(dir);
    command
        .env("SWITCHBOARD_LIMITS_IN_FLIGHT_PER_TOKEN", "256")
        .env("SWITCHBOARD_LIMITS_USER", "1000/5000");
    start(
        command,
        &[&SERVE[..], &["--ring-timeout-seconds", "600"]].concat(),
        3,
    )
}

/// A Socket.IO connection to `url` with `token`, which must be accepted.
async fn connect(url: &str, token: &str) -> Client {
    Client::connect(url, &json!({"token": token}), "")
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// A bot's batch for `page1`: the messages `ids`, in thread `t1`.
fn batch(ids: &[String]) -> Value {
    let messages: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({"message_id": id,
                "conversation": {"thread_id": "t1", "participant_id": "p1", "participant_name": "Trần Thị Bình"},
                "direction": "in", "text": format!("tin {id}"), "sent_at": 1795312800})
        })
        .collect();
    json!({"user_id_chat": "page1", "messages": messages})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_post_on_one_node_reaches_a_console_on_another_and_an_agents_send_a_bot_on_a_third()
{
    let Some(cluster) = Cluster::start("cluster: post and send across nodes").await else {
        return;
    };
    // (a) A console on B, one through HAProxy; the bot posts on A.
    let mut on_b = connect(&cluster.node(1, "sender"), &cluster.admin).await;
    let mut through = connect(&cluster.balancer.url("sender"), &cluster.admin).await;
    let (status, answer) = cluster
        .ingest(&cluster.node(0, "receiver"), &["m-a".to_owned()])
        .await;
    assert_eq!(status, 200, "{answer}");
    for console in [&mut on_b, &mut through] {
        let event = next_named(console, "new_messages").await;
        assert_eq!(event["messages"][0]["message_id"], "m-a");
    }

    // (b) The bot's command channel on C; an agent sends on B.
    let mut bot = connect(&cluster.node(2, "sender"), &cluster.bot).await;
    let (_, page) = cluster
        .get(&cluster.node(1, "sender"), "/api/conversations/page1")
        .await;
    let conversation = page["data"]["items"][0]["id"]
        .as_i64()
        .expect("a conversation");
    let (status, sent) = cluster
        .post(
            &format!("{}/api/send_message_from_crm", cluster.node(1, "sender")),
            &cluster.admin,
            &json!({"conversation_id": conversation, "text": "Dạ shop nghe ạ"}),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let command = next_named(&mut bot, "send_message_command").await;
    assert_eq!(command["command_id"], sent["data"]["command_id"]);
    assert_eq!(command["text"], "Dạ shop nghe ạ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_calls_answered_at_once_on_two_nodes_each_have_one_winner() {
    const CALLS: usize = 100;
    let Some(cluster) = Cluster::start("cluster: one winner per call").await else {
        return;
    };
    // Two agents: Lan answers from B, Minh from C.
    let mut agents = Vec::new();
    for (username, extension) in [("lan", "101"), ("minh", "102")] {
        let (status, user) = cluster
            .post(
                &format!("{}/api/users", cluster.balancer.url("sender")),
                &cluster.admin,
                &json!({"username": username, "role": "agent", "password": "agent password 123"}),
            )
            .await;
        assert_eq!(status, 200, "{user}");
        let (status, created) = cluster
            .post(
                &format!("{}/api/agents", cluster.balancer.url("callcenter")),
                &cluster.admin,
                &json!({"userId": user["data"]["id"], "fullName": username, "extension": extension}),
            )
            .await;
        assert_eq!(status, 200, "{created}");
        agents.push(created["data"]["id"].as_i64().expect("agent id"));
    }
    let cti = format!(
        "{}/api/v1/cti/{}",
        cluster.balancer.url("callcenter"),
        cluster.pbx
    );
    for n in 0..CALLS {
        let call_id = format!("RACE_{n}");
        let fields = [
            ("event", "newCall"),
            ("from", "0912345678"),
            ("to", "1900"),
            ("direction", "in"),
            ("callId", call_id.as_str()),
        ];
        let response = cluster
            .http
            .post(&cti)
            .form(&fields)
            .send()
            .await
            .expect("cti");
        assert_eq!(response.status(), 200, "{call_id}");
    }
    // Every answer at once: each call from B and from C.
    let answers: Vec<_> = (0..CALLS)
        .flat_map(|n| {
            [(1, agents[0]), (2, agents[1])].map(|(index, agent)| {
                let url = format!(
                    "{}/api/calls/RACE_{n}/answer",
                    cluster.node(index, "callcenter")
                );
                let request = cluster
                    .http
                    .post(url)
                    .bearer_auth(&cluster.admin)
                    .json(&json!({"agentId": agent}));
                tokio::spawn(async move {
                    let response = request.send().await.expect("answer");
                    let status = response.status().as_u16();
                    (status, response.json::<Value>().await.expect("json"))
                })
            })
        })
        .collect();
    let mut results = Vec::new();
    for answer in answers {
        results.push(answer.await.expect("join"));
    }
    let mut wins = [0, 0];
    for (n, pair) in results.chunks(2).enumerate() {
        let won: Vec<_> = pair.iter().filter(|(status, _)| *status == 200).collect();
        assert_eq!(won.len(), 1, "RACE_{n}: {pair:?}");
        let winner = usize::from(pair[1].0 == 200);
        wins[winner] += 1;
        let lost = pair
            .iter()
            .find(|(status, _)| *status != 200)
            .expect("a loser");
        assert!(
            (400..500).contains(&lost.0) && lost.1["error"]["code"] == "call_taken",
            "RACE_{n}: {lost:?}"
        );
        let (_, call) = cluster
            .get(
                &cluster.node(0, "callcenter"),
                &format!("/api/calls/RACE_{n}"),
            )
            .await;
        assert_eq!(
            (&call["data"]["status"], &call["data"]["answeredBy"]),
            (&json!("connected"), &json!(agents[winner])),
            "RACE_{n}"
        );
    }
    eprintln!("a hundred races: B won {}, C won {}", wins[0], wins[1]);
}

/// The ids of the messages of a `new_messages` event and its event id.
fn messages_of(event: &Value) -> (i64, Vec<String>) {
    let ids = event["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|message| message["message_id"].as_str().expect("id").to_owned())
        .collect();
    (event["event_id"].as_i64().expect("event id"), ids)
}

/// What a console streaming through HAProxy saw: every message id in order of arrival, and how many
/// times it had to reconnect.
struct Seen {
    messages: Vec<String>,
    reconnections: usize,
}

/// A console of the receiver's events through HAProxy until it has seen `expected` messages:
/// whenever its connection ends it reconnects through HAProxy, resuming from the last event id it
/// saw. Each event must follow the one before (ids only grow: a repeat is a duplicate).
async fn stream(mut client: Client, front: String, token: String, expected: usize) -> Seen {
    let mut seen = Seen {
        messages: Vec::new(),
        reconnections: 0,
    };
    let mut last_event_id = 0;
    let deadline = tokio::time::Instant::now() + WITHIN * 2;
    loop {
        while seen.messages.len() < expected {
            let event = tokio::time::timeout_at(deadline, client.next_event())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "a console saw {} of {expected} messages",
                        seen.messages.len()
                    )
                });
            let Some(event) = event else {
                seen.reconnections += 1;
                break;
            };
            if event.name != "new_messages" {
                continue;
            }
            let (event_id, ids) = messages_of(&event.data().expect("data"));
            assert!(
                event_id > last_event_id,
                "event {event_id} after {last_event_id}: a duplicate"
            );
            last_event_id = event_id;
            seen.messages.extend(ids);
        }
        if seen.messages.len() >= expected {
            return seen;
        }
        let auth = json!({"token": token, "last_event_id": last_event_id});
        client = eventually(
            WITHIN.as_secs(),
            "a console to reconnect through HAProxy",
            || {
                let (front, auth) = (front.clone(), auth.clone());
                async move { Client::connect(&front, &auth, "").await.ok() }
            },
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_while_consoles_stream_loses_and_repeats_nothing() {
    const BATCHES: usize = 40;
    const PER_BATCH: usize = 5;
    const CONSOLES: usize = 6;
    let Some(mut cluster) = Cluster::start("cluster: a node killed").await else {
        return;
    };
    let expected = BATCHES * PER_BATCH;
    // Six consoles through HAProxy: `leastconn` gives each node two.
    let mut consoles = Vec::new();
    for _ in 0..CONSOLES {
        let front = cluster.balancer.url("receiver");
        let token = cluster.integrator.clone();
        let client = Client::connect(&front, &json!({"token": token, "last_event_id": 0}), "")
            .await
            .expect("console");
        consoles.push(tokio::spawn(stream(client, front, token, expected)));
    }
    // The bot posts batches through HAProxy; a batch that gets no 2xx is posted again (as bots do)
    // until one does. The kill comes after a quarter of them, while it posts; the last quarter waits
    // for the kill, so some are surely posted after it.
    let (accepted_tx, mut accepted) = tokio::sync::watch::channel(0_usize);
    let (killed_tx, mut killed) = tokio::sync::watch::channel(false);
    let writer = {
        let (http, front, bot) = (
            cluster.http.clone(),
            cluster.balancer.url("receiver"),
            cluster.bot.clone(),
        );
        tokio::spawn(async move {
            let mut retries = 0;
            for b in 0..BATCHES {
                if b == BATCHES * 3 / 4 {
                    killed
                        .wait_for(|killed| *killed)
                        .await
                        .expect("the test runs");
                }
                let ids: Vec<String> = (0..PER_BATCH).map(|m| format!("k{b}-{m}")).collect();
                let body = batch(&ids);
                let deadline = tokio::time::Instant::now() + WITHIN;
                loop {
                    let answer = http
                        .post(format!("{front}/api/bot/new_messages"))
                        .bearer_auth(&bot)
                        .json(&body)
                        .timeout(WITHIN)
                        .send()
                        .await;
                    if answer.is_ok_and(|response| response.status().is_success()) {
                        break;
                    }
                    retries += 1;
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "batch {b} got no 2xx within {WITHIN:?}"
                    );
                }
                accepted_tx.send_replace(b + 1);
            }
            retries
        })
    };
    accepted
        .wait_for(|done| *done >= BATCHES / 4)
        .await
        .expect("the writer runs");
    cluster.nodes[0].take().expect("node A").kill();
    killed_tx.send_replace(true);
    let retries = writer.await.expect("writer");

    let mut reconnections = 0;
    for console in consoles {
        let seen = console.await.expect("console");
        let unique: HashSet<&String> = seen.messages.iter().collect();
        assert_eq!(
            unique.len(),
            seen.messages.len(),
            "a console saw a message twice"
        );
        assert_eq!(seen.messages.len(), expected, "a console missed messages");
        reconnections += seen.reconnections;
    }
    assert!(
        reconnections > 0,
        "no console was on the killed node: the kill proved nothing"
    );
    let stored = db_count(
        &cluster.dir,
        "SELECT COUNT(*) FROM messages WHERE platform_message_id LIKE 'k%'",
    )
    .await;
    assert_eq!(
        stored,
        i64::try_from(expected).expect("count"),
        "every accepted message stored once ({retries} posts were retried)"
    );
}
