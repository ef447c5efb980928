//! One customer across numbers and pages, over REST: fields admins define, duplicates suggested and
//! merged, CSV files in and out; who may do each, and what bad input gets.

use serde_json::{Value, json};
use switchboard_callcenter::CallCenterOptions;
use switchboard_testkit::callcenter::TestCallCenter;
use switchboard_testkit::fixtures_http::Verbs;

/// Posts a file as the request's body, as the console's import does.
async fn upload(app: &TestCallCenter, query: &str, token: &str, bytes: &[u8]) -> (u16, Value) {
    let response = app
        .http
        .post(format!("{}/api/customers/import{query}", app.url))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(bytes.to_vec())
        .send()
        .await
        .expect("import");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn admins_define_fields_and_agents_fill_them_in() {
    let app = TestCallCenter::spawn(CallCenterOptions::default()).await;
    let (_, agent) = app.agent("lan", "101").await;
    let admin = app.api_token.as_str();
    let tier = json!({"key": "hang", "label": "Hạng thành viên", "kind": "choice", "choices": ["Bạc", "Vàng"]});
    let (status, refused) = app.post("/api/customer-fields", &agent, tier.clone()).await;
    assert_eq!(status, 403, "{refused}");
    let (status, field) = app.post("/api/customer-fields", admin, tier.clone()).await;
    assert_eq!(status, 200, "{field}");
    let (status, again) = app.post("/api/customer-fields", admin, tier).await;
    assert_eq!(status, 409, "{again}");
    let (status, bad) = app
        .post(
            "/api/customer-fields",
            admin,
            json!({"key": "Ngày sinh", "label": "x", "kind": "date"}),
        )
        .await;
    assert_eq!(
        (status, &bad["error"]["field"]),
        (422, &json!("key")),
        "{bad}"
    );
    let (status, bad) = app
        .post(
            "/api/customer-fields",
            admin,
            json!({"key": "x", "label": "x", "kind": "colour"}),
        )
        .await;
    assert_eq!(status, 422, "{bad}");
    let (_, listed) = app.get("/api/customer-fields", &agent).await;
    assert_eq!(listed["data"][0]["key"], "hang");

    let (status, created) = app
        .post(
            "/api/customers",
            &agent,
            json!({"fullName": "An", "emails": ["an@x.vn"], "customFields": {"hang": "vàng"}}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["data"]["customFields"], json!({"hang": "Vàng"}));
    assert_eq!(
        (&created["data"]["email"], &created["data"]["emails"]),
        (&json!("an@x.vn"), &json!(["an@x.vn"]))
    );
    let id = created["data"]["id"].as_i64().expect("id");
    let (status, bad) = app
        .patch(
            &format!("/api/customers/{id}"),
            &agent,
            json!({"customFields": {"hang": "Đồng"}}),
        )
        .await;
    assert_eq!(
        (status, &bad["error"]["field"]),
        (422, &json!("customFields.hang")),
        "{bad}"
    );
    let field_id = field["data"]["id"].as_i64().expect("id");
    let (status, conflict) = app
        .patch(
            &format!("/api/customer-fields/{field_id}"),
            admin,
            json!({"choices": ["Bạc"]}),
        )
        .await;
    assert_eq!(status, 409, "{conflict}");
    let (status, _) = app
        .delete(&format!("/api/customer-fields/{field_id}"), &agent)
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .delete(&format!("/api/customer-fields/{field_id}"), admin)
        .await;
    assert_eq!(status, 200);
    let (_, after) = app.get(&format!("/api/customers/{id}"), &agent).await;
    assert_eq!(after["data"]["customFields"], json!({}));
}

#[tokio::test]
async fn duplicates_are_suggested_and_supervisors_merge_them() {
    let app = TestCallCenter::spawn(CallCenterOptions::default()).await;
    let (_, agent) = app.agent("lan", "101").await;
    let supervisor = app.api_token.as_str();
    let (_, a) = app
        .post(
            "/api/customers",
            &agent,
            json!({"fullName": "Trần Đức", "phoneNumber": "0912 345 678", "cif": "CIF1"}),
        )
        .await;
    let (_, b) = app
        .post("/api/customers", &agent, json!({"fullName": "Duc", "phoneNumbers": ["+84912345678", "0987654321"], "email": "duc@x.vn"}))
        .await;
    let (a, b) = (
        a["data"]["id"].as_i64().expect("a"),
        b["data"]["id"].as_i64().expect("b"),
    );
    let (status, pairs) = app.get("/api/customers/duplicates", &agent).await;
    assert_eq!(status, 200, "{pairs}");
    assert_eq!(
        (
            &pairs["data"][0]["customer"]["id"],
            &pairs["data"][0]["other"]["id"],
            &pairs["data"][0]["reasons"]
        ),
        (
            &json!(a),
            &json!(b),
            &json!([{"kind": "phone", "value": "+84912345678"}])
        )
    );
    let (_, of_b) = app
        .get(&format!("/api/customers/{b}/duplicates"), &agent)
        .await;
    assert_eq!(of_b["data"][0]["other"]["id"], a);

    let (status, refused) = app
        .post(
            &format!("/api/customers/{a}/merge"),
            &agent,
            json!({"customerIds": [b]}),
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    let (status, itself) = app
        .post(
            &format!("/api/customers/{a}/merge"),
            supervisor,
            json!({"customerIds": [a]}),
        )
        .await;
    assert_eq!(
        (status, &itself["error"]["field"]),
        (422, &json!("customerIds")),
        "{itself}"
    );
    let (status, unknown) = app
        .post(
            &format!("/api/customers/{a}/merge"),
            supervisor,
            json!({"customerIds": [b, 99999]}),
        )
        .await;
    assert_eq!(status, 404, "{unknown}");
    let (status, merged) = app
        .post(
            &format!("/api/customers/{a}/merge"),
            supervisor,
            json!({"customerIds": [b]}),
        )
        .await;
    assert_eq!(status, 200, "{merged}");
    assert_eq!(
        merged["data"]["phoneNumbers"],
        json!(["+84912345678", "+84987654321"])
    );
    assert_eq!(merged["data"]["emails"], json!(["duc@x.vn"]));
    let (status, _) = app.get(&format!("/api/customers/{b}"), &agent).await;
    assert_eq!(status, 404, "the merged customer is gone");
    let (_, none) = app.get("/api/customers/duplicates", &agent).await;
    assert_eq!(none["data"], json!([]));

    let (_, c) = app
        .post(
            "/api/customers",
            &agent,
            json!({"fullName": "Đức khác", "phoneNumber": "0987 654 321"}),
        )
        .await;
    let c = c["data"]["id"].as_i64().expect("c");
    let (status, _) = app
        .post(
            &format!("/api/customers/{c}/distinct"),
            &agent,
            json!({"customerId": a}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, none) = app
        .get(&format!("/api/customers/{c}/duplicates"), &agent)
        .await;
    assert_eq!(none["data"], json!([]), "told apart: no longer suggested");
    let (status, same) = app
        .post(
            &format!("/api/customers/{c}/distinct"),
            &agent,
            json!({"customerId": c}),
        )
        .await;
    assert_eq!(status, 422, "{same}");
}

#[tokio::test]
async fn a_csv_file_imports_whole_or_reports_why_not_and_exports_back() {
    let app = TestCallCenter::spawn(CallCenterOptions::default()).await;
    let (_, agent) = app.agent("lan", "101").await;
    let supervisor = app.api_token.as_str();
    app.post(
        "/api/customers",
        &agent,
        json!({"fullName": "Đã có", "phoneNumber": "0912 000 001"}),
    )
    .await;
    // Excel's "CSV UTF-8" on a Vietnamese Windows: a byte-order mark and semicolons.
    let mut file = vec![0xEF, 0xBB, 0xBF];
    file.extend_from_slice(
        "Họ tên;SĐT;Email;Ghi chú\r\nNguyễn Văn An;0912 345 678;an@x.vn;Khách \"VIP\"; Q1\r\nTrần Bình;0912.000.001;;\r\nLê Chi;gọi sau;;\r\n"
            .replace("Khách \"VIP\"; Q1", "\"Khách \"\"VIP\"\"; Q1\"")
            .as_bytes(),
    );
    let (status, refused) = upload(&app, "", &agent, &file).await;
    assert_eq!(status, 403, "{refused}");
    let (status, refused) = upload(&app, "", supervisor, &file).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["success"], false);
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("line 4")),
        "{refused}"
    );
    assert_eq!(refused["data"]["refused"][0]["line"], 4);
    assert_eq!(refused["data"]["duplicates"][0]["line"], 3);
    assert_eq!(refused["data"]["committed"], false);
    let (_, all) = app.get("/api/customers", &agent).await;
    assert_eq!(
        all["data"].as_array().map(Vec::len),
        Some(1),
        "nothing imported"
    );

    let (status, dry) = upload(&app, "?onError=skip&dryRun=true", supervisor, &file).await;
    assert_eq!(
        (status, &dry["data"]["imported"], &dry["data"]["committed"]),
        (200, &json!(1), &json!(false)),
        "{dry}"
    );
    let (status, done) = upload(&app, "?onError=skip", supervisor, &file).await;
    assert_eq!(
        (
            status,
            &done["data"]["imported"],
            &done["data"]["committed"]
        ),
        (200, &json!(1), &json!(true)),
        "{done}"
    );
    let (_, found) = app.get("/api/customers?q=nguyen%20van%20an", &agent).await;
    assert_eq!(found["data"][0]["notes"], "Khách \"VIP\"; Q1");

    let (status, bad) = upload(&app, "?onError=maybe", supervisor, &file).await;
    assert_eq!(
        (status, &bad["error"]["field"]),
        (422, &json!("onError")),
        "{bad}"
    );
    let (status, latin1) = upload(&app, "", supervisor, b"name\r\nNguy\xea\xf1\r\n").await;
    assert_eq!(
        (status, &latin1["error"]["field"]),
        (422, &json!("file")),
        "{latin1}"
    );
    let (status, no_name) = upload(&app, "", supervisor, b"phone\r\n0912345678\r\n").await;
    assert_eq!(status, 422, "{no_name}");

    let response = app
        .http
        .get(format!("{}/api/customers/export", app.url))
        .bearer_auth(supervisor)
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().ok(),
        Some("text/csv; charset=utf-8")
    );
    let bytes = response.bytes().await.expect("bytes");
    assert!(
        bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
        "a byte-order mark for Excel"
    );
    let text = String::from_utf8_lossy(&bytes[3..]);
    assert!(
        text.starts_with("id,fullName,phoneNumbers,emails,cif,notes\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Nguyễn Văn An,'+84912345678,an@x.vn,,\"Khách \"\"VIP\"\"; Q1\""),
        "{text}"
    );
    let (status, _) = app.get("/api/customers/export", &agent).await;
    assert_eq!(status, 403);
}
