//! The application: shared state, the router with its layers, and the serving loop
//! with the background workers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::MatchedPath;
use axum::http::{HeaderName, Request};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::anonymity::Salts;
use crate::config::{Config, SiteConfig};
use crate::error::ApiError;
use crate::ingest::Ingest;
use crate::limits::Limits;
use crate::routes;
use crate::settings::{LiveSites, SiteSet};
use crate::store::Store;
use crate::{handoff, sla};

const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// How often the server trims what it keeps in memory about traffic: without it,
/// histogram samples and idle clients' rate-limit buckets pile up for ever.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(5);

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Config>,
    sites: Arc<LiveSites>,
    store: Store,
    handoff_wake: Arc<Notify>,
    limits: Limits,
    ingest: Ingest,
    salts: Salts,
}

impl AppState {
    /// Opens the database named in the configuration and starts the event
    /// writers on the current tokio runtime.
    pub async fn new(config: Config) -> anyhow::Result<AppState> {
        crate::telemetry::recorder();
        let store = Store::open(&config.server.database).await?;
        let config = Arc::new(config);
        let sites = Arc::new(LiveSites::start(config.clone(), &store).await?);
        let handoff_wake = Arc::new(Notify::new());
        Ok(AppState {
            inner: Arc::new(Inner {
                limits: Limits::new(&config.server),
                ingest: Ingest::start(store.clone(), sites.clone(), handoff_wake.clone()),
                salts: Salts::new(store.clone()),
                config,
                sites,
                store,
                handoff_wake,
            }),
        })
    }

    /// The configuration as read at start. Sites change while the server runs:
    /// read them through [`AppState::sites`] or [`AppState::site`], never from here.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Every site as it is now, as one consistent snapshot.
    pub fn sites(&self) -> Arc<SiteSet> {
        self.inner.sites.snapshot()
    }

    /// The live sites, to reload after saving a version.
    pub fn live_sites(&self) -> &LiveSites {
        &self.inner.sites
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The site as it is now, or the error a client gets for an unknown one.
    pub fn site(&self, id: &str) -> Result<Arc<SiteConfig>, ApiError> {
        self.inner
            .sites
            .site(id)
            .ok_or_else(|| ApiError::UnknownSite(id.to_owned()))
    }

    /// The writer of event batches.
    pub fn ingest(&self) -> &Ingest {
        &self.inner.ingest
    }

    /// The day's salt for cookieless ids and hashed addresses.
    pub fn salts(&self) -> &Salts {
        &self.inner.salts
    }

    /// The collector's rate limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Tells the handoff worker that the outbox has something new.
    pub fn wake_handoffs(&self) {
        self.inner.handoff_wake.notify_one();
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or(request.uri().path(), MatchedPath::as_str);
        let request_id = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        tracing::info_span!("request", method = %request.method(), route, request_id)
    });
    routes::router(&state)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(trace)
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
        .with_state(state)
}

/// Serves on `listener` until `shutdown` completes, then lets requests in flight
/// finish, stops the handoff worker and closes the database.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_workers, stopped) = watch::channel(false);
    let worker = tokio::spawn(handoff::run(
        state.store().clone(),
        state.inner.config.clone(),
        state.inner.handoff_wake.clone(),
        stopped.clone(),
    ));
    let timer = tokio::spawn(sla::run(state.clone(), stopped.clone()));
    let housekeeping = tokio::spawn(housekeeping(state.clone(), stopped.clone()));
    let settings_watch = {
        let state = state.clone();
        tokio::spawn(async move {
            let store = state.store().clone();
            state.live_sites().watch(store, stopped).await;
        })
    };

    tracing::info!(address = %listener.local_addr()?, "headwater listening");
    let service = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await?;

    stop_workers.send_replace(true);
    worker.await?;
    timer.await?;
    housekeeping.await?;
    settings_watch.await?;
    state.store().close().await;
    tracing::info!("headwater stopped");
    Ok(())
}

/// Every [`HOUSEKEEPING_INTERVAL`] until shutdown: folds the histograms' samples
/// into their summaries (the recorder keeps every sample until then) and forgets
/// the rate-limit buckets of clients that went quiet.
async fn housekeeping(state: AppState, mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        crate::telemetry::recorder().run_upkeep();
        state.limits().forget_idle();
        tokio::select! {
            () = tokio::time::sleep(HOUSEKEEPING_INTERVAL) => {}
            _ = shutdown.changed() => {}
        }
    }
}
