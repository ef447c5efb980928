//! Customers over REST: found by number, words or conversation; created and edited with the fields
//! an admin defines; merged when they are one person (suggested by what they share); imported from
//! and exported to CSV files. camelCase and `{success, data}`, as the rest of the call center.

use crate::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use switchboard_domain::custom_fields::FieldIn;
use switchboard_domain::customer::CustomerIn;
use switchboard_domain::customer_csv;
use switchboard_domain::{ConversationId, CustomFieldId, CustomerId, ValidationError, phone};
use switchboard_storage::{CustomField, Customer, DuplicatePair, ImportOptions, ImportReport};
use switchboard_web::openapi::{ErrorAnswer, utoipa};
use switchboard_web::{
    Admin, Answer, ApiError, Console, DEFAULT_PAGE, ErrorBody, ErrorCode, Id, JsonBody, Paging,
    QueryParams as Query, RawBody, Supervisor, Viewer, ok,
};

/// The most customers a search answers.
const MAX_CUSTOMERS: usize = 100;

/// A search by phone number.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerSearchIn {
    /// Any spelling of the number; with `exactMatch: false`, at least 3 of its digits.
    #[schema(example = "0912 345 678")]
    phone_number: String,
    /// `false`: customers with a number containing these digits (a leading `0` is dropped).
    #[serde(default = "yes")]
    #[schema(default = true)]
    exact_match: bool,
}

fn yes() -> bool {
    true
}

/// The customers with a phone number (any spelling), or whose numbers contain its digits.
///
/// At most 50 customers, by id.
#[utoipa::path(post, path = "/api/customers/search", tag = "customers", request_body = CustomerSearchIn,
    responses(
        (status = 200, description = "The customers found (maybe none)", body = Answer<Vec<Customer>>),
        (status = 403, description = "Not a login or an API token", body = ErrorAnswer),
        (status = 422, description = "`phoneNumber` is not a phone number, or too few digits to search", body = ErrorAnswer),
    ))]
pub async fn search_customers_by_phone(
    State(state): State<AppState>,
    viewer: Viewer,
    JsonBody(body): JsonBody<CustomerSearchIn>,
) -> Result<Response, ApiError> {
    let store = state.engine.store();
    let customers = if body.exact_match {
        let number = phone::normalize(&body.phone_number)
            .map_err(|e| ValidationError::new("phoneNumber", e.problem))?;
        store
            .customers_by_phone(&number, true, DEFAULT_PAGE)
            .await?
    } else {
        let digits = phone::search_digits(&body.phone_number);
        if digits.len() < 3 {
            return Err(
                ValidationError::new("phoneNumber", "give at least 3 digits to search").into(),
            );
        }
        store
            .customers_by_phone(&digits, false, DEFAULT_PAGE)
            .await?
    };
    Ok(ok(store.customers_seen_by(customers, &viewer.view).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Words of a name, an email or a CIF (case and accents ignored, the last word as a prefix; typed
    /// with accents, those spelled so come first), or part of a number (3 digits or more).
    #[param(example = "nguyen van an")]
    q: Option<String>,
    /// The customers linked to this Facebook conversation (instead of `q`).
    #[serde(rename = "conversationId")]
    #[param(value_type = Option<i64>)]
    conversation_id: Option<ConversationId>,
}

/// Customers by name, email, CIF or part of a number, or those linked to a Facebook conversation.
///
/// With `conversationId`, the console's thread shows whose conversation it is (at most 100
/// customers). Otherwise, by name.
#[utoipa::path(get, path = "/api/customers", tag = "customers",
    params(CustomerQuery,
        ("limit" = Option<i64>, Query, description = "The most customers to answer (50 if not given)", minimum = 1, maximum = 100)),
    responses(
        (status = 200, description = "The customers found (maybe none)", body = Answer<Vec<Customer>>),
        (status = 403, description = "Not a login or an API token", body = ErrorAnswer),
        (status = 422, description = "A query parameter is invalid (`field` says which)", body = ErrorAnswer),
    ))]
pub async fn customers(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<CustomerQuery>,
    paging: Paging,
) -> Result<Response, ApiError> {
    if let Some(conversation_id) = query.conversation_id {
        viewer.conversation(conversation_id.get()).await?;
        let store = state.engine.store();
        let customers = store
            .customers_of_conversation(conversation_id.get())
            .await?;
        return Ok(ok(store.customers_seen_by(customers, &viewer.view).await?));
    }
    let q = query.q.unwrap_or_default();
    let limit = paging.limit_up_to(MAX_CUSTOMERS)?;
    let digits = phone::search_digits(&q);
    let digits = if digits.len() >= 3 {
        digits
    } else {
        String::new()
    };
    let store = state.engine.store();
    let customers = store.search_customers(&q, &digits, limit).await?;
    Ok(ok(store.customers_seen_by(customers, &viewer.view).await?))
}

/// A new customer; its numbers are normalised (at most 20).
#[utoipa::path(post, path = "/api/customers", tag = "customers", request_body = CustomerIn,
    responses(
        (status = 200, description = "The new customer", body = Answer<Customer>),
        (status = 403, description = "Not a login or an API token", body = ErrorAnswer),
        (status = 422, description = "A field is invalid or `fullName` missing (`field` says which)", body = ErrorAnswer),
    ))]
pub async fn create_customer(
    State(state): State<AppState>,
    _: Console,
    JsonBody(body): JsonBody<CustomerIn>,
) -> Result<Response, ApiError> {
    let fields = body.validate()?;
    if fields.full_name.as_deref().is_none_or(str::is_empty) {
        return Err(ValidationError::new("fullName", "is required").into());
    }
    Ok(ok(state.engine.store().create_customer(fields).await?))
}

/// One customer.
#[utoipa::path(get, path = "/api/customers/{id}", tag = "customers",
    params(("id" = i64, Path, description = "The customer's id", minimum = 1)),
    responses(
        (status = 200, description = "The customer", body = Answer<Customer>),
        (status = 403, description = "Not a login or an API token", body = ErrorAnswer),
        (status = 404, description = "No such customer", body = ErrorAnswer),
        (status = 422, description = "The id is not a positive integer", body = ErrorAnswer),
    ))]
pub async fn customer(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(customer_id): Id<CustomerId>,
) -> Result<Response, ApiError> {
    let store = state.engine.store();
    let customer = store.customer(customer_id.get()).await?;
    Ok(ok(store.customer_seen_by(customer, &viewer.view).await?))
}

/// Changes a customer's fields; `phoneNumbers` (or `phoneNumber`) replaces all their numbers.
#[utoipa::path(patch, path = "/api/customers/{id}", tag = "customers", request_body = CustomerIn,
    params(("id" = i64, Path, description = "The customer's id", minimum = 1)),
    responses(
        (status = 200, description = "The customer as changed", body = Answer<Customer>),
        (status = 403, description = "Not a login or an API token", body = ErrorAnswer),
        (status = 404, description = "No such customer", body = ErrorAnswer),
        (status = 422, description = "A field is invalid (`field` says which)", body = ErrorAnswer),
    ))]
pub async fn update_customer(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(customer_id): Id<CustomerId>,
    JsonBody(body): JsonBody<CustomerIn>,
) -> Result<Response, ApiError> {
    let fields = body.validate()?;
    if fields.full_name.as_deref() == Some("") {
        return Err(ValidationError::new("fullName", "must not be empty").into());
    }
    let store = state.engine.store();
    let customer = store.update_customer(customer_id.get(), fields).await?;
    Ok(ok(store.customer_seen_by(customer, &viewer.view).await?))
}

/// A Facebook conversation to link to a customer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkIn {
    #[schema(value_type = i64, example = 42)]
    conversation_id: ConversationId,
}

/// Links a Facebook conversation to the customer (again: nothing changes).
#[utoipa::path(post, path = "/api/customers/{id}/conversations", tag = "customers", request_body = LinkIn,
    params(("id" = i64, Path, description = "The customer's id", minimum = 1)),
    responses(
        (status = 200, description = "The customer, with the conversation among theirs", body = Answer<Customer>),
        (status = 403, description = "Not a login or an API token", body = ErrorAnswer),
        (status = 404, description = "No such customer or conversation", body = ErrorAnswer),
        (status = 422, description = "A field is invalid (`field` says which)", body = ErrorAnswer),
    ))]
pub async fn link_conversation(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(customer_id): Id<CustomerId>,
    JsonBody(body): JsonBody<LinkIn>,
) -> Result<Response, ApiError> {
    viewer.conversation(body.conversation_id.get()).await?;
    let store = state.engine.store();
    let customer = store
        .link_conversation(customer_id.get(), body.conversation_id.get())
        .await?;
    Ok(ok(store.customer_seen_by(customer, &viewer.view).await?))
}

/// Customers to merge into the one in the path.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MergeIn {
    /// 1 to 10 customers; they are deleted once merged.
    #[schema(value_type = Vec<i64>, example = json!([31]))]
    customer_ids: Vec<CustomerId>,
}

/// Merges customers into this one (supervisors and admins).
///
/// Their numbers, emails, linked conversations, calls and field values move to it; its own name, CIF
/// and values win and theirs fill what it lacks; notes are joined. The merged customers are deleted
/// and consoles are told (`customers_merged`). All or nothing.
#[utoipa::path(post, path = "/api/customers/{id}/merge", tag = "customers", request_body = MergeIn,
    params(("id" = i64, Path, description = "The customer that stays", minimum = 1)),
    responses(
        (status = 200, description = "The customer as merged", body = Answer<Customer>),
        (status = 403, description = "Not a supervisor or an admin", body = ErrorAnswer),
        (status = 404, description = "No such customer (the message says which)", body = ErrorAnswer),
        (status = 409, description = "Different CIFs, or more numbers, emails or notes together than one customer keeps", body = ErrorAnswer),
        (status = 422, description = "No customer to merge, too many, or the customer itself", body = ErrorAnswer),
    ))]
pub async fn merge_customers(
    State(state): State<AppState>,
    Supervisor(principal): Supervisor,
    viewer: Viewer,
    Id(customer_id): Id<CustomerId>,
    JsonBody(body): JsonBody<MergeIn>,
) -> Result<Response, ApiError> {
    let store = state.engine.store();
    let merged = store
        .merge_customers(
            customer_id.get(),
            body.customer_ids.iter().map(|id| id.get()).collect(),
            principal.user_id(),
        )
        .await?;
    state.engine.feed().notify();
    tracing::info!(
        customer_id = merged.id,
        merged = body.customer_ids.len(),
        "customers merged"
    );
    Ok(ok(store.customer_seen_by(merged, &viewer.view).await?))
}

/// Pairs of customers that are likely one person (same number, same email, or linked to the same
/// Facebook person on a page), newest first; pairs told apart are left out.
#[utoipa::path(get, path = "/api/customers/duplicates", tag = "customers",
    params(("limit" = Option<i64>, Query, description = "The most pairs (50 if not given)", minimum = 1, maximum = 100)),
    responses(
        (status = 200, description = "The pairs, each with what they share", body = Answer<Vec<DuplicatePair>>),
        (status = 403, description = "Not a login or an API token", body = ErrorAnswer),
    ))]
pub async fn duplicates(
    State(state): State<AppState>,
    viewer: Viewer,
    paging: Paging,
) -> Result<Response, ApiError> {
    let limit = paging.limit_up_to(MAX_CUSTOMERS)?;
    let pairs = state
        .engine
        .store()
        .duplicate_customers(None, limit)
        .await?;
    Ok(ok(pairs_seen_by(&state, pairs, &viewer).await?))
}

/// The customers likely the same person as this one (`customer` is this one in each pair).
#[utoipa::path(get, path = "/api/customers/{id}/duplicates", tag = "customers",
    params(("id" = i64, Path, description = "The customer's id", minimum = 1)),
    responses(
        (status = 200, description = "The likely duplicates, each with what they share", body = Answer<Vec<DuplicatePair>>),
        (status = 403, description = "Not a login or an API token", body = ErrorAnswer),
        (status = 404, description = "No such customer", body = ErrorAnswer),
    ))]
pub async fn duplicates_of(
    State(state): State<AppState>,
    viewer: Viewer,
    Id(customer_id): Id<CustomerId>,
) -> Result<Response, ApiError> {
    let pairs = state
        .engine
        .store()
        .duplicate_customers(Some(customer_id.get()), DEFAULT_PAGE)
        .await?;
    Ok(ok(pairs_seen_by(&state, pairs, &viewer).await?))
}

/// The pairs with each customer's conversations as the caller may see them.
async fn pairs_seen_by(
    state: &AppState,
    pairs: Vec<DuplicatePair>,
    viewer: &Viewer,
) -> Result<Vec<DuplicatePair>, ApiError> {
    let store = state.engine.store();
    let mut seen = Vec::with_capacity(pairs.len());
    for mut pair in pairs {
        pair.customer = store.customer_seen_by(pair.customer, &viewer.view).await?;
        pair.other = store.customer_seen_by(pair.other, &viewer.view).await?;
        seen.push(pair);
    }
    Ok(seen)
}

/// A customer said to be a different person.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DistinctIn {
    #[schema(value_type = i64, example = 31)]
    customer_id: CustomerId,
}

/// Says two customers are different people: they are no longer suggested as duplicates (again:
/// nothing changes).
#[utoipa::path(post, path = "/api/customers/{id}/distinct", tag = "customers", request_body = DistinctIn,
    params(("id" = i64, Path, description = "The customer's id", minimum = 1)),
    responses(
        (status = 200, description = "Recorded", body = Answer<Distinct>),
        (status = 403, description = "Not a login or an API token", body = ErrorAnswer),
        (status = 404, description = "No such customer", body = ErrorAnswer),
        (status = 422, description = "The same customer twice", body = ErrorAnswer),
    ))]
pub async fn mark_distinct(
    State(state): State<AppState>,
    _: Console,
    Id(customer_id): Id<CustomerId>,
    JsonBody(body): JsonBody<DistinctIn>,
) -> Result<Response, ApiError> {
    state
        .engine
        .store()
        .mark_distinct_customers(customer_id.get(), body.customer_id.get())
        .await?;
    Ok(ok(Distinct {
        customer_id: customer_id.get(),
        other_id: body.customer_id.get(),
    }))
}

/// Two customers told apart.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Distinct {
    customer_id: i64,
    other_id: i64,
}

/// Every field admins defined for customers, in the order the console shows them.
#[utoipa::path(get, path = "/api/customer-fields", tag = "customers",
    responses(
        (status = 200, description = "The fields", body = Answer<Vec<CustomField>>),
        (status = 403, description = "Not a login or an API token", body = ErrorAnswer),
    ))]
pub async fn custom_fields(
    State(state): State<AppState>,
    _: Console,
) -> Result<Response, ApiError> {
    Ok(ok(state.engine.store().custom_fields().await?))
}

/// Defines a field every customer gets (admins): text, number, date or choice. Its key names it in
/// the API (`customFields`) and in CSV headers; its kind never changes.
#[utoipa::path(post, path = "/api/customer-fields", tag = "customers", request_body = FieldIn,
    responses(
        (status = 200, description = "The field", body = Answer<CustomField>),
        (status = 403, description = "Not an admin", body = ErrorAnswer),
        (status = 409, description = "A field has this key, or there are 50 fields", body = ErrorAnswer),
        (status = 422, description = "A bad key, label, kind or choice (`field` says which)", body = ErrorAnswer),
    ))]
pub async fn create_custom_field(
    State(state): State<AppState>,
    _: Admin,
    JsonBody(body): JsonBody<FieldIn>,
) -> Result<Response, ApiError> {
    let position = body.position;
    let field = state
        .engine
        .store()
        .create_custom_field(body.definition()?, position)
        .await?;
    Ok(ok(field))
}

/// Renames a field, changes its choices or its place (admins). A choice customers have cannot be
/// taken away.
#[utoipa::path(patch, path = "/api/customer-fields/{id}", tag = "customers", request_body = FieldIn,
    params(("id" = i64, Path, description = "The field's id", minimum = 1)),
    responses(
        (status = 200, description = "The field as changed", body = Answer<CustomField>),
        (status = 403, description = "Not an admin", body = ErrorAnswer),
        (status = 404, description = "No such field", body = ErrorAnswer),
        (status = 409, description = "A choice to take away is some customers' value", body = ErrorAnswer),
        (status = 422, description = "A bad label or choice, or a change of key or kind", body = ErrorAnswer),
    ))]
pub async fn update_custom_field(
    State(state): State<AppState>,
    _: Admin,
    Id(field_id): Id<CustomFieldId>,
    JsonBody(body): JsonBody<FieldIn>,
) -> Result<Response, ApiError> {
    Ok(ok(state
        .engine
        .store()
        .update_custom_field(field_id.get(), body)
        .await?))
}

/// Deletes a field and every customer's value of it (admins).
#[utoipa::path(delete, path = "/api/customer-fields/{id}", tag = "customers",
    params(("id" = i64, Path, description = "The field's id", minimum = 1)),
    responses(
        (status = 200, description = "Deleted: the field as it was", body = Answer<CustomField>),
        (status = 403, description = "Not an admin", body = ErrorAnswer),
        (status = 404, description = "No such field", body = ErrorAnswer),
    ))]
pub async fn delete_custom_field(
    State(state): State<AppState>,
    _: Admin,
    Id(field_id): Id<CustomFieldId>,
) -> Result<Response, ApiError> {
    Ok(ok(state
        .engine
        .store()
        .delete_custom_field(field_id.get())
        .await?))
}

/// How an import treats refused rows and known numbers.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `skip`: import the good rows and report the others; `refuse` (default): a refused row stops
    /// the whole file, and nothing is imported.
    #[param(example = "refuse")]
    on_error: Option<String>,
    /// `skip` (default): rows with a number a customer (or an earlier row) has are left out and
    /// reported; `import`: imported anyway (and then suggested as duplicates).
    #[param(example = "skip")]
    duplicates: Option<String>,
    /// `true`: only report what the import would do.
    dry_run: Option<bool>,
}

impl ImportQuery {
    fn options(&self) -> Result<ImportOptions, ValidationError> {
        let choice =
            |field: &str, given: &Option<String>, yes: &str, no: &str| match given.as_deref() {
                None => Ok(false),
                Some(value) if value == yes => Ok(true),
                Some(value) if value == no => Ok(false),
                Some(value) => Err(ValidationError::new(
                    field,
                    format!(
                        "`{}` is neither `{no}` nor `{yes}`",
                        switchboard_domain::validation::clip(value, 20)
                    ),
                )),
            };
        Ok(ImportOptions {
            skip_refused: choice("onError", &self.on_error, "skip", "refuse")?,
            import_duplicates: choice("duplicates", &self.duplicates, "import", "skip")?,
            dry_run: self.dry_run.unwrap_or(false),
        })
    }
}

/// A file with refused rows: nothing was imported; `data`, the report, says which rows and why. A file
/// that cannot be read at all has no report (`error.field` is `file`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct RefusedImport<'a> {
    /// Always `false`.
    success: bool,
    error: ErrorBody<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<ImportReport>,
}

/// Imports customers from a CSV file (supervisors and admins), the request's body itself.
///
/// UTF-8 (with or without a byte-order mark, as Excel's "CSV UTF-8" writes it) or UTF-16 (Excel's
/// "Unicode text"); separated by `,`, `;` or tabs (found from the header line, or Excel's `sep=`
/// line); at most 50,000 rows. Headers in English or Vietnamese, accents and case ignored:
/// `fullName`/`Họ tên` (required), `phone`/`Số điện thoại`/`SĐT` (several numbers separated by `;`),
/// `email`, `cif`, `notes`/`Ghi chú`, and any field an admin defined (by key or label). Other columns
/// are left out and named in the report. Numbers another customer has are reported and, unless
/// `duplicates=import`, left out. All rows are written in one transaction.
#[utoipa::path(post, path = "/api/customers/import", tag = "customers", params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The file"),
    responses(
        (status = 200, description = "Imported (or, with `dryRun`, what would be)", body = Answer<ImportReport>),
        (status = 403, description = "Not a supervisor or an admin", body = ErrorAnswer),
        (status = 413, description = "Larger than 8 MB", body = ErrorAnswer),
        (status = 422, description = "Rows were refused and `onError` is not `skip`: nothing was imported, `data` says why row by row; or the file cannot be read at all (`field` is `file`)", body = RefusedImport),
    ))]
pub async fn import_customers(
    State(state): State<AppState>,
    _: Supervisor,
    Query(query): Query<ImportQuery>,
    RawBody(bytes): RawBody,
) -> Result<Response, ApiError> {
    let options = query.options()?;
    let table = customer_csv::read(&bytes)?;
    let report = state
        .engine
        .store()
        .import_customers(table, options)
        .await?;
    tracing::info!(
        rows = report.rows,
        imported = report.imported,
        refused = report.refused.len(),
        duplicates = report.duplicates.len(),
        committed = report.committed,
        "customers imported"
    );
    if report.refused.is_empty() || options.skip_refused {
        return Ok(ok(report));
    }
    let message = format!(
        "{} of {} rows are refused (line {}: {}); nothing was imported. Fix them, or send onError=skip to import the good rows",
        report.refused.len(),
        report.rows,
        report.refused[0].line,
        report.refused[0].reason
    );
    let body = RefusedImport {
        success: false,
        error: ErrorBody {
            code: ErrorCode::InvalidField,
            message,
            item: None,
            field: Some("file"),
        },
        data: Some(report),
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response())
}

/// Every customer as a CSV file (supervisors and admins): UTF-8 with a byte-order mark, so Excel shows
/// Vietnamese right; the columns an import reads back, then one per field by key. Cells a
/// spreadsheet would run as a formula start with `'`.
#[utoipa::path(get, path = "/api/customers/export", tag = "customers",
    responses(
        (status = 200, description = "The file", body = String, content_type = "text/csv"),
        (status = 403, description = "Not a supervisor or an admin", body = ErrorAnswer),
    ))]
pub async fn export_customers(
    State(state): State<AppState>,
    _: Supervisor,
) -> Result<Response, ApiError> {
    let bytes = state.engine.store().export_customers().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"customers.csv\"",
            ),
        ],
        bytes,
    )
        .into_response())
}
