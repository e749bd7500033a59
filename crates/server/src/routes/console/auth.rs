//! Signing in and out of the console. The session cookie is HttpOnly,
//! `SameSite=Lax` and, when `console.secure_cookies` is on, `Secure`; a new session
//! id is made at every sign-in.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;

use super::{Layout, SESSION_COOKIE, SIGN_IN_COOKIE, render};
use crate::accounts::{self, SignInError};
use crate::app::AppState;
use crate::clock::now_ms;
use crate::error::ApiError;

pub const SIGN_IN_PATH: &str = "/console/sign-in";

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    layout: Layout,
    csrf: String,
    email: String,
    problem: String,
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(SIGN_IN_PATH, get(sign_in_page).post(sign_in))
        .route("/console/sign-out", post(sign_out))
}

async fn sign_in_page(State(state): State<AppState>, jar: CookieJar) -> Response {
    let (jar, csrf) = sign_in_token(&state, jar);
    let page = SignInPage {
        layout: Layout::anonymous("Sign in"),
        csrf,
        email: String::new(),
        problem: String::new(),
    };
    (jar, render(&page)).into_response()
}

/// Signs in (the CSRF token was checked already) and starts a new session.
async fn sign_in(
    State(state): State<AppState>,
    jar: CookieJar,
    Form(form): Form<SignInForm>,
) -> Result<Response, ApiError> {
    let console = &state.config().console;
    let outcome = accounts::sign_in(
        state.store(),
        &form.email,
        &form.password,
        console.session_hours,
        now_ms(),
    )
    .await?;

    match outcome {
        Ok(session) => {
            let mut cookie = Cookie::new(SESSION_COOKIE, session.token);
            cookie.set_http_only(true);
            cookie.set_same_site(SameSite::Lax);
            cookie.set_secure(console.secure_cookies);
            cookie.set_path("/console");
            cookie.set_max_age(time::Duration::hours(i64::from(console.session_hours)));
            let jar = jar
                .add(cookie)
                .remove(Cookie::build(SIGN_IN_COOKIE).path("/console"));
            Ok((jar, Redirect::to("/console")).into_response())
        }
        Err(problem) => {
            let status = match problem {
                SignInError::WrongCredentials => StatusCode::UNAUTHORIZED,
                SignInError::LockedOut { .. } => StatusCode::TOO_MANY_REQUESTS,
            };
            let (jar, csrf) = sign_in_token(&state, jar);
            let page = SignInPage {
                layout: Layout::anonymous("Sign in"),
                csrf,
                email: form.email,
                problem: problem.to_string(),
            };
            Ok((status, jar, render(&page)).into_response())
        }
    }
}

/// Ends the session (the CSRF token was checked already).
async fn sign_out(State(state): State<AppState>, jar: CookieJar) -> Result<Response, ApiError> {
    if let Some(token) = jar.get(SESSION_COOKIE) {
        accounts::sign_out(state.store(), token.value(), now_ms()).await?;
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/console"));
    Ok((jar, Redirect::to(SIGN_IN_PATH)).into_response())
}

/// The sign-in form's CSRF token: the one in the browser's cookie, or a new one.
fn sign_in_token(state: &AppState, jar: CookieJar) -> (CookieJar, String) {
    if let Some(existing) = jar.get(SIGN_IN_COOKIE) {
        let token = existing.value().to_owned();
        return (jar, token);
    }
    let token = accounts::random_token();
    let mut cookie = Cookie::new(SIGN_IN_COOKIE, token.clone());
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_secure(state.config().console.secure_cookies);
    cookie.set_path("/console");
    (jar.add(cookie), token)
}
