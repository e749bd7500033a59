//! The one error type at the HTTP edge. Every handler returns [`ApiError`]; clients
//! get a stable code and a message, operators get the cause logged once (server
//! faults at error, client faults at debug).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use headwater_core::FieldError;
use headwater_core::form::Language;
use serde_json::json;

/// What went wrong with a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not what the endpoint takes.
    #[error("{0}")]
    BadRequest(String),
    #[error("unknown site `{0}`")]
    UnknownSite(String),
    #[error("site has no form `{0}`")]
    UnknownForm(String),
    #[error("origin `{0}` may not send to this site")]
    ForeignOrigin(String),
    #[error("some answers were refused")]
    InvalidAnswers(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    #[error("a valid API token is needed: Authorization: Bearer <token>")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// The waterfall does not allow the move asked for.
    #[error("{0}")]
    RefusedMove(String),
    /// More writes are waiting than the database can take soon: come back later.
    #[error("the collector is overloaded: retry in {retry_after} s")]
    Overloaded { retry_after: u64 },
    /// Too many requests from one address or for one site.
    #[error("too many requests: retry in {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    /// Our fault: logged in full, answered without detail.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::Internal(error.into())
    }
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::UnknownSite(_) => (StatusCode::NOT_FOUND, "unknown_site"),
            ApiError::UnknownForm(_) => (StatusCode::NOT_FOUND, "unknown_form"),
            ApiError::ForeignOrigin(_) => (StatusCode::FORBIDDEN, "foreign_origin"),
            ApiError::InvalidAnswers(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_answers"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::RefusedMove(_) => (StatusCode::CONFLICT, "refused_move"),
            ApiError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Overloaded { .. } => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        crate::telemetry::refused(code);
        match &self {
            ApiError::Internal(cause) => tracing::error!(error = ?cause, "request failed"),
            client_fault => tracing::debug!(code, error = %client_fault, "request refused"),
        }

        let mut body = json!({ "error": { "code": code, "message": self.to_string() } });
        if let ApiError::InvalidAnswers(errors) = &self {
            body["error"]["fields"] = errors
                .iter()
                .map(|error| {
                    json!({
                        "field": error.field,
                        "problem": error.problem,
                        "message": error.problem.message(Language::En),
                    })
                })
                .collect();
        }
        let mut response = (status, Json(body)).into_response();
        if let ApiError::TooManyRequests { retry_after } | ApiError::Overloaded { retry_after } =
            self
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, retry_after.into());
        }
        response
    }
}
