//! Static assets, embedded in the binary and served under content-hashed names
//! (`/static/app-1a2b3c4d.css`) with a year-long immutable cache: a new release changes the
//! name, so browsers never keep a stale stylesheet. No CDN: the shop works offline of one.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// One embedded file.
pub struct Asset {
    /// The plain name, e.g. `app.css`.
    pub name: &'static str,
    /// The name carrying the content hash, e.g. `app-1a2b3c4d.css`.
    pub hashed_name: String,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

fn asset(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
    let digest = hex::encode(Sha256::digest(bytes));
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    Asset {
        name,
        hashed_name: format!("{stem}-{}.{ext}", &digest[..10]),
        content_type,
        bytes,
    }
}

/// Every embedded asset.
pub static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    vec![
        asset(
            "app.css",
            "text/css; charset=utf-8",
            include_bytes!("../../static/app.css"),
        ),
        asset(
            "app.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../static/app.js"),
        ),
        asset(
            "console.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../static/console.js"),
        ),
        // The browser console's VNC client (noVNC, MPL-2.0), vendored by scripts/vendor-novnc.
        asset(
            "novnc.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../static/novnc.js"),
        ),
        asset(
            "favicon.svg",
            "image/svg+xml",
            include_bytes!("../../static/favicon.svg"),
        ),
    ]
});

/// The URL of an asset by its plain name, for templates.
pub fn url(name: &str) -> String {
    ASSETS
        .iter()
        .find(|a| a.name == name)
        .map(|a| format!("/static/{}", a.hashed_name))
        .unwrap_or_else(|| format!("/static/{name}"))
}

/// `/static/{name}`: the assets, under any application state.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/static/{name}", get(serve_asset))
}

async fn serve_asset(Path(name): Path<String>) -> Result<Response, AppError> {
    let (asset, immutable) = ASSETS
        .iter()
        .find_map(|a| {
            if a.hashed_name == name {
                Some((a, true))
            } else if a.name == name {
                Some((a, false))
            } else {
                None
            }
        })
        .ok_or(AppError::NotFound("file"))?;
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        asset.bytes,
    )
        .into_response())
}
