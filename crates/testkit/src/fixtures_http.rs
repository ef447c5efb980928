//! The REST verbs as methods of [`Api`], with the caller's token: a test's request then reads as
//! `app.post(path, &token, body)` and fits on a line, where [`Api::call`] takes four arguments.
//! Requests without a token, or with one that may be absent, still go through [`Api::call`].

use crate::http::Api;
use serde_json::Value;
use std::future::Future;

/// The status and the JSON answer (`null` when it is not JSON), as [`Api::call`] gives them.
pub type Answer = (u16, Value);

/// JSON requests with a bearer token.
pub trait Verbs {
    fn get(&self, path: &str, token: &str) -> impl Future<Output = Answer> + Send;
    fn post(&self, path: &str, token: &str, body: Value) -> impl Future<Output = Answer> + Send;
    /// A POST with no body at all, as the consoles' action buttons send it.
    fn post_empty(&self, path: &str, token: &str) -> impl Future<Output = Answer> + Send;
    fn put(&self, path: &str, token: &str, body: Value) -> impl Future<Output = Answer> + Send;
    fn patch(&self, path: &str, token: &str, body: Value) -> impl Future<Output = Answer> + Send;
    fn delete(&self, path: &str, token: &str) -> impl Future<Output = Answer> + Send;
}

impl Verbs for Api {
    async fn get(&self, path: &str, token: &str) -> Answer {
        self.call("GET", path, Some(token), None).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call("POST", path, Some(token), Some(body)).await
    }

    async fn post_empty(&self, path: &str, token: &str) -> Answer {
        self.call("POST", path, Some(token), None).await
    }

    async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call("PUT", path, Some(token), Some(body)).await
    }

    async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call("PATCH", path, Some(token), Some(body)).await
    }

    async fn delete(&self, path: &str, token: &str) -> Answer {
        self.call("DELETE", path, Some(token), None).await
    }
}
