//! Files agents attach to replies: uploaded as the request's body, checked by their bytes, kept in
//! the database, and served to the consoles that see the reply's page and to its bot (which sends
//! them to Facebook).

use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use switchboard_domain::attachments::{clean_file_name, sniff};
use switchboard_domain::{AttachmentId, Principal, UnixMillis};
use switchboard_storage::{AttachmentView, StoredFile};
use switchboard_web::openapi::{ErrorAnswer, utoipa};
use switchboard_web::{
    Answer, ApiError, Authenticated, Console, Id, QueryParams as Query, RawBody, ok,
};

/// How long an uploaded file waits to be sent before it is deleted.
pub(crate) const UNSENT_KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name as the customer will see it (its last path segment is kept, at most 200
    /// characters).
    #[param(example = "bang-gia.pdf")]
    name: Option<String>,
}

/// Uploads a file to attach to a reply: the request's body is the file itself (any
/// `Content-Type`; the type is read from the bytes). Pictures (JPEG, PNG, GIF, WebP) and documents
/// (PDF, .docx, .xlsx, .pptx, .txt, .csv) up to 8 MB. Send it with `attachment_ids` in
/// `POST /api/send_message_from_crm` within a day, or it is deleted.
#[utoipa::path(post, path = "/api/attachments", tag = "sending",
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 200, description = "The stored file; its `id` goes in `attachment_ids`", body = Answer<AttachmentView>),
        (status = 413, description = "Larger than 8 MB", body = ErrorAnswer),
        (status = 422, description = "Empty, or not a type Messenger takes (`file`)", body = ErrorAnswer),
        (status = 403, description = "A bot token", body = ErrorAnswer),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    Console(principal): Console,
    Query(query): Query<UploadQuery>,
    RawBody(bytes): RawBody,
) -> Result<Response, ApiError> {
    let name = clean_file_name(query.name.as_deref().unwrap_or_default());
    let sniffed = sniff(&bytes, &name)?;
    let stored = state
        .store
        .upload_attachment(name, sniffed, bytes.to_vec(), principal.user_id())
        .await?;
    tracing::info!(
        id = stored.id,
        size = stored.size,
        kind = stored.kind.as_str(),
        "file uploaded"
    );
    Ok(ok(stored))
}

/// A file of a reply: to a console that sees the reply's page (or, before it is sent, to whoever
/// uploaded it), and to the page's bot, which sends it to Facebook. Anything else is answered as if the
/// file did not exist.
#[utoipa::path(get, path = "/api/attachments/{id}", tag = "sending",
    params(("id" = i64, Path, description = "The file's id", minimum = 1)),
    responses(
        (status = 200, description = "The file's bytes, with its type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No such file, or not yours to read", body = ErrorAnswer),
        (status = 403, description = "A phone system's token", body = ErrorAnswer),
    ))]
pub async fn download(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Id(id): Id<AttachmentId>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("no file {id}"));
    if matches!(principal, Principal::PhoneSystem { .. }) {
        return Err(ApiError::Forbidden(
            "a phone system's token reads no files".into(),
        ));
    }
    let file = state
        .store
        .attachment(id.get())
        .await?
        .ok_or_else(not_found)?;
    if !may_read(&state, &principal, &file).await? {
        return Err(not_found());
    }
    Ok(serve(file))
}

async fn may_read(
    state: &AppState,
    principal: &Principal,
    file: &StoredFile,
) -> Result<bool, ApiError> {
    Ok(match (principal, &file.account) {
        (Principal::Bot { account, .. }, sent) => sent.as_deref() == Some(account.as_str()),
        (_, Some(account)) => state.store.account_view(principal).await?.sees(account),
        (_, None) => principal.user_id() == file.uploaded_by,
    })
}

/// The bytes as a download that no browser runs as a page: its own type, `nosniff`, and no scripts.
fn serve(file: StoredFile) -> Response {
    let disposition = if file.view.kind.as_str() == "image" {
        "inline"
    } else {
        "attachment"
    };
    let mut response = (StatusCode::OK, file.bytes).into_response();
    let headers = response.headers_mut();
    let mut set = |name, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, file.view.content_type);
    set(
        header::CONTENT_DISPOSITION,
        format!(
            "{disposition}; filename*=UTF-8''{}",
            rfc5987(&file.view.name)
        ),
    );
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; sandbox".into(),
    );
    set(header::CACHE_CONTROL, "private, max-age=86400".into());
    response
}

/// How often a node deletes the uploads nobody sent.
const UNSENT_SWEEP: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes the uploads nobody sent within a day, every hour, until the role's state is dropped.
pub(crate) fn forget_unsent(state: &AppState) -> impl Future<Output = ()> + Send + 'static {
    let alive = state.bots.downgrade();
    let store = state.store.clone();
    async move {
        let mut ticks = tokio::time::interval(UNSENT_SWEEP);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if alive.upgrade().is_none() {
                return;
            }
            let kept_for = i64::try_from(UNSENT_KEPT_FOR.as_millis()).unwrap_or(i64::MAX);
            let before = UnixMillis(UnixMillis::now().0.saturating_sub(kept_for));
            match store.forget_unsent_attachments(before).await {
                Ok(0) => {}
                Ok(count) => {
                    tracing::info!(count, "deleted files uploaded a day ago and never sent")
                }
                Err(error) => tracing::warn!(%error, "cannot delete unsent files"),
            }
        }
    }
}

/// A file name for `Content-Disposition`'s `filename*=UTF-8''…` (RFC 5987): every byte but the
/// few that may stand as they are is percent-encoded.
fn rfc5987(name: &str) -> String {
    let mut out = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_names_are_percent_encoded_for_the_header() {
        assert_eq!(
            super::rfc5987("Bảng giá.pdf"),
            "B%E1%BA%A3ng%20gi%C3%A1.pdf"
        );
        assert_eq!(super::rfc5987("a\"b;c.txt"), "a%22b%3Bc.txt");
    }
}
