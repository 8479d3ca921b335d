//! The page and its assets, embedded in the binary: the dashboard works with no internet and
//! from any directory. Served with a content security policy that allows nothing outside the
//! admin listener.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// The page.
pub const PAGE: &str = include_str!("assets/index.html");

/// (file name, content type, bytes) of every asset under `/dashboard/assets/`.
pub const ASSETS: [(&str, &str, &[u8]); 5] = [
    ("dashboard.js", "text/javascript; charset=utf-8", include_bytes!("assets/dashboard.js")),
    ("dashboard.css", "text/css; charset=utf-8", include_bytes!("assets/dashboard.css")),
    ("uPlot.iife.min.js", "text/javascript; charset=utf-8", include_bytes!("assets/vendor/uplot/uPlot.iife.min.js")),
    ("uPlot.min.css", "text/css; charset=utf-8", include_bytes!("assets/vendor/uplot/uPlot.min.css")),
    ("uPlot-LICENSE.txt", "text/plain; charset=utf-8", include_bytes!("assets/vendor/uplot/LICENSE")),
];

/// Nothing is loaded, framed or sent anywhere but the admin listener itself.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn secured(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Small files: always revalidate, so an upgraded server never runs an old script.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `GET /dashboard`.
pub async fn page() -> Response {
    secured(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response())
}

/// `GET /dashboard/`: the page's links are relative to `/dashboard` (so a reverse proxy may
/// serve it under any prefix).
pub async fn to_page() -> Redirect {
    Redirect::permanent("../dashboard")
}

/// `GET /dashboard/assets/{file}`.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => secured(([(header::CONTENT_TYPE, *content_type)], *bytes).into_response()),
        None => super::super::error(StatusCode::NOT_FOUND, format!("no dashboard asset `{file}`"), None),
    }
}
