//! The call center's OpenAPI document: every operation it lists is served at that path and method,
//! and is described (tag, summary, the answer's schema, the errors, how to authenticate). That every
//! served route is listed holds by construction: routes are registered with their descriptions.

use serde_json::{Value, json};
use switchboard_callcenter::CallCenterOptions;
use switchboard_testkit::callcenter::TestCallCenter;
use switchboard_testkit::fixtures_http::Verbs;

/// The operations of the call center's own API, as clients have called them since the seed.
const OPERATIONS: [(&str, &str); 45] = [
    ("post", "/api/agents"),
    ("get", "/api/agents/status"),
    ("get", "/api/agents/available"),
    ("get", "/api/agents/me"),
    ("patch", "/api/agents/{id}"),
    ("put", "/api/agents/{id}/status"),
    ("post", "/api/agents/{id}/status"),
    ("get", "/api/call-center/status"),
    ("get", "/api/customers"),
    ("post", "/api/customers"),
    ("post", "/api/customers/search"),
    ("get", "/api/customers/{id}"),
    ("patch", "/api/customers/{id}"),
    ("post", "/api/customers/{id}/conversations"),
    ("post", "/api/customers/{id}/merge"),
    ("get", "/api/customers/duplicates"),
    ("get", "/api/customers/{id}/duplicates"),
    ("post", "/api/customers/{id}/distinct"),
    ("post", "/api/customers/import"),
    ("get", "/api/customers/export"),
    ("get", "/api/customer-fields"),
    ("post", "/api/customer-fields"),
    ("patch", "/api/customer-fields/{id}"),
    ("delete", "/api/customer-fields/{id}"),
    ("get", "/api/calls"),
    ("get", "/api/callbacks"),
    ("post", "/api/callbacks/{id}/close"),
    ("get", "/api/calls/{call_id}"),
    ("get", "/api/floor"),
    ("get", "/api/waiting-calls"),
    ("get", "/api/call-outcomes"),
    ("post", "/api/call-outcomes"),
    ("patch", "/api/call-outcomes/{id}"),
    ("post", "/api/calls/{call_id}/outcome"),
    ("post", "/api/calls/dial"),
    ("post", "/api/calls/{call_id}/transfer"),
    ("get", "/api/phone-commands"),
    ("get", "/api/reports/calls"),
    ("get", "/api/reports/conversations"),
    ("post", "/api/calls/{call_id}/answer"),
    ("post", "/api/calls/{call_id}/end"),
    ("get", "/api/blocked-numbers"),
    ("post", "/api/blocked-numbers"),
    ("delete", "/api/blocked-numbers/{number}"),
    ("post", "/api/cti/{token}"),
];

#[tokio::test]
async fn every_operation_is_described_and_served_where_the_document_says() {
    let app = TestCallCenter::spawn(CallCenterOptions::default()).await;
    let doc: Value = app
        .http
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .expect("document")
        .json()
        .await
        .expect("json");

    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/") {
            continue;
        }
        for method in item.as_object().expect("path item").keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    let mut expected: Vec<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    documented.sort();
    expected.sort();
    assert_eq!(documented, expected);

    let console = json!([{"session": []}, {"bearer": []}]);
    for (method, path) in OPERATIONS {
        let operation = &doc["paths"][path][method];
        let name = format!("{method} {path}");
        assert!(operation["tags"][0].is_string(), "{name}: tag");
        assert!(operation["summary"].is_string(), "{name}: summary");
        if path == "/api/customers/export" {
            // A file for spreadsheets, not a `{success, data}` answer.
            assert!(
                operation["responses"]["200"]["content"]["text/csv"].is_object(),
                "{name}: the file's type"
            );
        } else {
            assert!(
                operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
                    .is_string(),
                "{name}: the answer's schema"
            );
        }
        assert!(operation["responses"]["401"].is_object(), "{name}: 401");
        assert!(operation["responses"]["default"].is_object(), "{name}");
        if path == "/api/cti/{token}" {
            // The token is in the path: phone systems cannot send headers of their choosing.
            assert_eq!(operation["security"], json!([{}]), "{name}");
            assert!(
                operation["requestBody"]["content"]["application/x-www-form-urlencoded"]
                    .is_object(),
                "{name}: Zammad's form fields"
            );
        } else {
            assert_eq!(operation["security"], console, "{name}");
        }

        // Served there: a route that did not take it would answer 405, or the fallback's 404.
        let concrete = path
            .replace("{id}", "1")
            .replace("{call_id}", "C1")
            .replace("{number}", "0912345678")
            .replace("{token}", &app.pbx_token);
        let (status, body) = match method {
            "get" if path == "/api/customers/export" => {
                let response = app
                    .http
                    .get(format!("{}{concrete}", app.url))
                    .bearer_auth(&app.api_token)
                    .send()
                    .await
                    .expect("export");
                (response.status().as_u16(), json!({}))
            }
            "get" => app.get(&concrete, &app.api_token).await,
            "post" => app.post(&concrete, &app.api_token, json!({})).await,
            "put" => app.put(&concrete, &app.api_token, json!({})).await,
            "patch" => app.patch(&concrete, &app.api_token, json!({})).await,
            "delete" => app.delete(&concrete, &app.api_token).await,
            other => panic!("{other}"),
        };
        let unrouted = status == 405
            || body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("no endpoint at"));
        assert!(!unrouted, "{name}: {status} {body}");
    }
}
