//! The day's salt for cookieless ids and hashed addresses (see `anonymity`): made
//! by whichever process asks first, the same for all, and deleted with its day.

use rand::RngCore;
use sqlx::AnyConnection;

/// The salt of `day` (days since the Unix epoch), made if there is none yet.
/// Earlier days' salts are deleted on the way.
pub async fn of_day(connection: &mut AnyConnection, day: i64) -> anyhow::Result<Vec<u8>> {
    let mut fresh = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    sqlx::query("INSERT INTO daily_salts (day, salt) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING")
        .bind(day)
        .bind(hex::encode(fresh))
        .execute(&mut *connection)
        .await?;
    sqlx::query("DELETE FROM daily_salts WHERE day < $1")
        .bind(day)
        .execute(&mut *connection)
        .await?;
    let salt: String = sqlx::query_scalar("SELECT salt FROM daily_salts WHERE day = $1")
        .bind(day)
        .fetch_one(&mut *connection)
        .await?;
    Ok(hex::decode(salt)?)
}
