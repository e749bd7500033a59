//! The console: server-rendered pages for the people who run the waterfall, one
//! module per area, each with its `router()`:
//!
//! - [`auth`]: signing in and out;
//! - [`report`]: the waterfall report and its CSV export (admins, marketers);
//! - [`workbench`]: the queues, search and lead pages, and the moves people make
//!   (the qualification team, sales, admins; everyone reads lead pages);
//! - [`settings`]: behaviours, forms and the lead definition, versioned, with a
//!   preview and rollback (admins, marketers);
//! - [`users`]: accounts (admins).
//!
//! Pages are plain HTML forms: every action is a POST that works without
//! JavaScript. Unlike the collector, the console is not open to other origins: no
//! CORS, a `SameSite=Lax` session cookie, a CSRF token checked on every POST before
//! any handler runs ([`protect`]), and a content security policy that allows no
//! script at all. Templates (askama) escape everything they print, so what
//! visitors typed or sent is always text.

mod auth;
mod report;
mod settings;
mod users;
mod workbench;

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::http::request::Parts;
use axum::http::{HeaderName, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use headwater_core::Role;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::accounts::{self, Account};
use crate::app::AppState;
use crate::clock::now_ms;
use crate::error::ApiError;

/// The session cookie: a random id whose SHA-256 names the session row.
pub const SESSION_COOKIE: &str = "hw_session";
/// Before signing in there is no session to hold a CSRF token; this cookie holds
/// the sign-in form's (double submit).
pub const SIGN_IN_COOKIE: &str = "hw_sign_in";
/// Console forms are small; a settings text is the largest.
const MAX_FORM_BYTES: usize = 512 * 1024;
/// No script, no framing, forms and styles from the console itself only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const STYLESHEET: &str = include_str!("../../../templates/console.css");

pub fn router(state: &AppState) -> Router<AppState> {
    let headers = |name: &'static str, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    };
    Router::new()
        .route("/console", get(home))
        .route("/console/console.css", get(stylesheet))
        .merge(auth::router())
        .merge(report::router())
        .merge(workbench::router())
        .merge(settings::router())
        .merge(users::router())
        .layer(axum::middleware::from_fn(html_errors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), protect))
        .layer(headers("content-security-policy", CONTENT_SECURITY_POLICY))
        .layer(headers("x-frame-options", "DENY"))
        .layer(headers("x-content-type-options", "nosniff"))
        .layer(headers("referrer-policy", "same-origin"))
        .layer(headers("cache-control", "no-store"))
}

/// The page each role starts on.
async fn home(account: Account) -> Redirect {
    match account.role {
        Role::Admin | Role::Marketer => Redirect::to("/console/report"),
        Role::Qualification | Role::Sales => Redirect::to("/console/queue"),
    }
}

async fn stylesheet() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/css; charset=utf-8")], STYLESHEET)
}

impl FromRequestParts<AppState> for Account {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(account) = parts.extensions.get::<Account>() {
            return Ok(account.clone());
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar.get(SESSION_COOKIE).ok_or(ApiError::Unauthorized)?;
        accounts::session(state.store(), token.value(), now_ms())
            .await?
            .ok_or(ApiError::Unauthorized)
    }
}

/// Refuses a role not among `roles` with 403.
pub fn require(account: &Account, roles: &[Role]) -> Result<(), ApiError> {
    if account.role == Role::Admin || roles.contains(&account.role) {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "the {} role may not see or do this",
        account.role
    )))
}

/// Middleware: finds the session, and refuses every POST whose `csrf` field is not
/// the session's token (or, on the sign-in form, the sign-in cookie's) with 403
/// before any handler runs, so nothing is changed.
async fn protect(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let jar = CookieJar::from_headers(request.headers());
    let account = match jar.get(SESSION_COOKIE) {
        Some(token) => match accounts::session(state.store(), token.value(), now_ms()).await {
            Ok(account) => account,
            Err(error) => return error_page(ApiError::Internal(error), None),
        },
        None => None,
    };

    let mut request = request;
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
            let refusal = ApiError::BadRequest("the form is too large".into());
            return error_page(refusal, account.as_ref());
        };
        let presented = form_urlencoded::parse(&bytes)
            .find(|(name, _)| name == "csrf")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        let expected = match (&account, parts.uri.path()) {
            (Some(account), _) => account.csrf_token.clone(),
            (None, auth::SIGN_IN_PATH) => jar
                .get(SIGN_IN_COOKIE)
                .map(|cookie| cookie.value().to_owned())
                .unwrap_or_default(),
            (None, _) => return Redirect::to(auth::SIGN_IN_PATH).into_response(),
        };
        if !accounts::same_secret(&presented, &expected) {
            tracing::info!(path = parts.uri.path(), "console form refused: CSRF token");
            let refusal = ApiError::Forbidden(
                "this form did not come from this console, or its page is too old: \
                 reload the page and try again"
                    .into(),
            );
            return error_page(refusal, account.as_ref());
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    if let Some(account) = account {
        request.extensions_mut().insert(account);
    }
    next.run(request).await
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    message: String,
}

/// Middleware: the console's errors as pages, and a missing session as the way to
/// the sign-in page. Errors come from the one error type as JSON; this wraps them.
async fn html_errors(request: Request, next: Next) -> Response {
    let account = request.extensions().get::<Account>().cloned();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !status.is_client_error() && !status.is_server_error() || !is_json {
        return response;
    }
    if status == StatusCode::UNAUTHORIZED {
        return Redirect::to(auth::SIGN_IN_PATH).into_response();
    }

    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or("something went wrong")
        .to_owned();
    page_of_error(status, message, account.as_ref())
}

/// An error as a page, logged and counted as the one error type does.
fn error_page(error: ApiError, account: Option<&Account>) -> Response {
    let message = error.to_string();
    let status = error.into_response().status();
    page_of_error(status, message, account)
}

fn page_of_error(status: StatusCode, message: String, account: Option<&Account>) -> Response {
    let layout = match account {
        Some(account) => Layout::new(account, "Not possible", ""),
        None => Layout::anonymous("Not possible"),
    };
    let page = ErrorPage {
        layout,
        status: status.as_u16(),
        message,
    };
    (status, render(&page)).into_response()
}

/// What every page shows around its content.
pub struct Layout {
    pub title: String,
    pub email: String,
    pub role: String,
    pub csrf: String,
    /// (path, label, whether this page is under it).
    pub nav: Vec<(&'static str, &'static str, bool)>,
}

impl Layout {
    /// The layout of a signed-in page; `current` is the path of its area.
    pub fn new(account: &Account, title: impl Into<String>, current: &str) -> Layout {
        let mut nav = Vec::new();
        let mut link = |path: &'static str, label: &'static str, roles: &[Role]| {
            if require(account, roles).is_ok() {
                nav.push((path, label, path == current));
            }
        };
        link("/console/report", "Waterfall", &[Role::Marketer]);
        link(
            "/console/queue",
            "Queue",
            &[Role::Qualification, Role::Sales],
        );
        link(
            "/console/leads",
            "Leads",
            &[Role::Marketer, Role::Qualification, Role::Sales],
        );
        link("/console/settings", "Settings", &[Role::Marketer]);
        link("/console/users", "People", &[]);
        Layout {
            title: title.into(),
            email: account.email.clone(),
            role: account.role.to_string(),
            csrf: account.csrf_token.clone(),
            nav,
        }
    }

    /// The layout of a page for someone not signed in.
    pub fn anonymous(title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            email: String::new(),
            role: String::new(),
            csrf: String::new(),
            nav: Vec::new(),
        }
    }
}

/// A template as an HTML response; a template that fails is our fault.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => ApiError::Internal(anyhow::anyhow!("template: {error}")).into_response(),
    }
}

/// A moment as people read it in the site's time zone: `2025-03-30 14:05`.
pub fn local_time(at_ms: i64, zone: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_millisecond(at_ms)
        .map(|moment| {
            moment
                .to_zoned(zone.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// A duration as people say it: `45 min`, `5 h`, `3.5 d`.
pub fn duration(ms: i64) -> String {
    let minutes = ms.abs() / 60_000;
    if minutes < 120 {
        format!("{minutes} min")
    } else if minutes < 48 * 60 {
        format!("{} h", minutes / 60)
    } else {
        format!("{:.1} d", minutes as f64 / 1440.0)
    }
}

/// The site a page is about: the one asked for, or the first.
pub fn chosen_site(
    state: &AppState,
    asked: Option<&str>,
) -> Result<std::sync::Arc<crate::config::SiteConfig>, ApiError> {
    match asked.filter(|site| !site.is_empty()) {
        Some(site) => state.site(site),
        None => state
            .sites()
            .sites
            .first()
            .cloned()
            .ok_or_else(|| ApiError::NotFound),
    }
}

/// The ids of every site, for the site pickers.
pub fn site_ids(state: &AppState) -> Vec<String> {
    state
        .sites()
        .sites
        .iter()
        .map(|site| site.id.clone())
        .collect()
}

/// A redirect back to a console page the form named, or to `fallback` if it named
/// something else (another site, say).
pub fn back_to(asked: &str, fallback: &str) -> Redirect {
    let local = asked.starts_with("/console/") && !asked.contains("//") && !asked.contains('\\');
    Redirect::to(if local { asked } else { fallback })
}
