//! Console accounts: Argon2id password hashes, signing in with a lock-out after
//! repeated failures, and sessions referenced by a random id that only the
//! browser's cookie holds (the database keeps its SHA-256).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use headwater_core::Role;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::{Store, users};

/// Failed sign-ins within [`FAILURE_WINDOW_MS`] that lock an account...
pub const MAX_FAILED_SIGNINS: i64 = 5;
/// ...counted over this window (15 minutes)...
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// ...and locked for this long (15 minutes): long enough to make guessing hopeless,
/// short enough that the owner is not locked out for the day.
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;
/// Shorter passwords are refused when an account is made.
pub const MIN_PASSWORD_LENGTH: usize = 10;

/// A signed-in person, as every console page sees them.
#[derive(Debug, Clone)]
pub struct Account {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    /// The session's CSRF token: every form posts it back.
    pub csrf_token: String,
}

/// Why signing in failed. The message never says whether the e-mail exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    #[error("wrong e-mail or password")]
    WrongCredentials,
    #[error("too many failed sign-ins: try again in {minutes} minute(s)")]
    LockedOut { minutes: i64 },
}

/// Why an account could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("`{0}` is not an e-mail address")]
    InvalidEmail(String),
    #[error("the password must be at least {MIN_PASSWORD_LENGTH} characters")]
    WeakPassword,
    #[error("an account for {0} exists already")]
    Exists(String),
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

/// A new session: the cookie's value, and when it expires.
pub struct NewSession {
    pub token: String,
    pub expires_at: i64,
}

/// Makes an account with a hashed password.
pub async fn add_user(
    store: &Store,
    email: &str,
    role: Role,
    password: &str,
    now: i64,
) -> Result<String, AccountError> {
    let email = normalise(email);
    if headwater_core::email::normalize(&email).is_err() {
        return Err(AccountError::InvalidEmail(email));
    }
    if password.chars().count() < MIN_PASSWORD_LENGTH {
        return Err(AccountError::WeakPassword);
    }

    let hash = hash_password(password)?;
    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = store.begin().await.map_err(anyhow::Error::from)?;
    if !users::insert(&mut tx, &id, &email, role.as_str(), &hash, now).await? {
        return Err(AccountError::Exists(email));
    }
    tx.commit().await.map_err(anyhow::Error::from)?;
    tracing::info!(user = %id, role = %role, "console account added");
    Ok(id)
}

/// Checks an e-mail and password and starts a session. Five failures within 15
/// minutes lock the account for 15 minutes, even against the right password.
pub async fn sign_in(
    store: &Store,
    email: &str,
    password: &str,
    session_hours: u32,
    now: i64,
) -> anyhow::Result<Result<NewSession, SignInError>> {
    let email = normalise(email);
    let mut tx = store.begin().await?;
    crate::store::lock(&mut tx, &format!("user {email}")).await?;
    let Some(user) = users::by_email(&mut tx, &email).await? else {
        // Hash anyway, so that the time taken does not tell which e-mails exist.
        let _ = verify_password(&DUMMY_HASH, password);
        return Ok(Err(SignInError::WrongCredentials));
    };
    if let Some(until) = user.locked_until.filter(|until| *until > now) {
        let minutes = (until - now + 59_999) / 60_000;
        return Ok(Err(SignInError::LockedOut { minutes }));
    }

    if !verify_password(&user.password_hash, password) {
        let window_open = user
            .first_failure_at
            .is_some_and(|first| now - first < FAILURE_WINDOW_MS);
        let (failures, first) = if window_open {
            (user.failed_signins + 1, user.first_failure_at)
        } else {
            (1, Some(now))
        };
        let locked_until = (failures >= MAX_FAILED_SIGNINS).then_some(now + LOCKOUT_MS);
        users::record_attempt(&mut tx, &user.id, failures, first, locked_until).await?;
        tx.commit().await?;
        if locked_until.is_some() {
            tracing::warn!(user = %user.id, "console account locked after failed sign-ins");
            return Ok(Err(SignInError::LockedOut {
                minutes: LOCKOUT_MS / 60_000,
            }));
        }
        return Ok(Err(SignInError::WrongCredentials));
    }

    users::record_attempt(&mut tx, &user.id, 0, None, None).await?;
    let token = random_token();
    let expires_at = now + i64::from(session_hours) * 3_600_000;
    users::insert_session(
        &mut tx,
        &digest(&token),
        &user.id,
        &random_token(),
        now,
        expires_at,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, "signed in to the console");
    Ok(Ok(NewSession { token, expires_at }))
}

/// The account of a session cookie's value, if the session is alive.
pub async fn session(store: &Store, token: &str, now: i64) -> anyhow::Result<Option<Account>> {
    let mut connection = store.reader().acquire().await?;
    let Some(row) = users::session(&mut connection, &digest(token), now).await? else {
        return Ok(None);
    };
    let Some(role) = parse_role(&row.user.role) else {
        tracing::error!(user = %row.user.id, "account with an unknown role");
        return Ok(None);
    };
    Ok(Some(Account {
        user_id: row.user.id,
        email: row.user.email,
        role,
        csrf_token: row.csrf_token,
    }))
}

/// Ends the session of a cookie's value.
pub async fn sign_out(store: &Store, token: &str, now: i64) -> anyhow::Result<()> {
    let mut tx = store.begin().await?;
    users::delete_session(&mut tx, &digest(token), now).await?;
    tx.commit().await?;
    Ok(())
}

/// A role by its name.
pub fn parse_role(name: &str) -> Option<Role> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// 32 random bytes, hex: a session id or a CSRF token.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn same_secret(presented: &str, expected: &str) -> bool {
    !expected.is_empty() && digest(presented) == digest(expected)
}

/// Argon2id with the crate's default (OWASP-recommended) parameters.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|error| anyhow::anyhow!("{error}"))?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| anyhow::anyhow!("cannot hash the password: {error}"))?;
    Ok(hash.to_string())
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn normalise(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The hash of a password nobody has, verified when the e-mail is unknown.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password(&random_token()).unwrap_or_default());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse battery!"));
        assert!(!verify_password("not a hash", "anything"));
        assert!(
            PasswordHash::new(&DUMMY_HASH).is_ok(),
            "the dummy hash parses"
        );
    }

    #[test]
    fn roles_by_name() {
        assert_eq!(parse_role("sales"), Some(Role::Sales));
        assert_eq!(parse_role("owner"), None);
    }
}
