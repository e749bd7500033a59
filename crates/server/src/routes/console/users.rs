//! People with console accounts, for admins: who has which role, and adding one.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::{Layout, render, require};
use crate::accounts::{self, Account, AccountError};
use crate::app::AppState;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::store::users;

#[derive(Deserialize)]
struct NewUser {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

struct UserLine {
    email: String,
    role: String,
    locked: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserLine>,
    problem: String,
    min_password: usize,
}

pub fn router() -> Router<AppState> {
    Router::new().route("/console/users", get(page).post(add))
}

async fn page(State(state): State<AppState>, account: Account) -> Result<Response, ApiError> {
    require(&account, &[])?;
    Ok(render(&users_page(&state, &account, String::new()).await?))
}

async fn add(
    State(state): State<AppState>,
    account: Account,
    Form(form): Form<NewUser>,
) -> Result<Response, ApiError> {
    require(&account, &[])?;
    let Some(role) = accounts::parse_role(&form.role) else {
        let page = users_page(&state, &account, format!("unknown role `{}`", form.role)).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
    };
    match accounts::add_user(state.store(), &form.email, role, &form.password, now_ms()).await {
        Ok(_) => Ok(Redirect::to("/console/users").into_response()),
        Err(AccountError::Storage(error)) => Err(ApiError::Internal(error)),
        Err(problem) => {
            let page = users_page(&state, &account, problem.to_string()).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}

async fn users_page(
    state: &AppState,
    account: &Account,
    problem: String,
) -> Result<UsersPage, ApiError> {
    let mut connection = state.store().reader().acquire().await?;
    let now = now_ms();
    let users = users::all(&mut connection).await?;
    Ok(UsersPage {
        layout: Layout::new(account, "People", "/console/users"),
        users: users
            .into_iter()
            .map(|user| UserLine {
                locked: user.locked_until.is_some_and(|until| until > now),
                email: user.email,
                role: user.role,
            })
            .collect(),
        problem,
        min_password: accounts::MIN_PASSWORD_LENGTH,
    })
}
