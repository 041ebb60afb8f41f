//! `GET /service/server` and its `datacenter` / `images` / `capabilities` / `sizes` variants.

use axum::http::StatusCode;
use axum::response::Response;

use super::json_response;
use super::params::{self, Params};
use crate::fixtures;

pub(super) fn options(p: &Params) -> Response {
    // Without `datacenter` the image list defaults to EU, as the proxy does.
    let dc = params::non_empty(p, "datacenter")
        .filter(|d| d != "1")
        .unwrap_or_else(|| "EU".to_owned());
    let body = if params::truthy(p, "images") {
        fixtures::image_list(&dc)
    } else if params::truthy(p, "capabilities") {
        fixtures::capabilities(&dc)
    } else if params::truthy(p, "sizes") {
        fixtures::sizes(&dc)
    } else if params::text(p, "datacenter").as_deref() == Some("1") {
        fixtures::datacenter_list()
    } else {
        fixtures::all_options()
    };
    json_response(StatusCode::OK, &body)
}
