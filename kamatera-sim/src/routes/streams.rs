//! Hostile bodies that are produced while they are sent: a huge body and one that trickles
//! for ever. Neither is ever held in memory whole, and both stop when the simulator shuts
//! down, so a graceful shutdown does not wait for them.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

/// One list row with the comma that separates it from the row before: repeated, it fills
/// a huge body with what looks like a real answer to a reader that parses as it goes.
const UNIT: &[u8] = br#",{"id":"00000000-0000-4000-8000-000000000000","name":"huge-row","datacenter":"IL","power":"on"}"#;

/// Bytes handed to hyper at a time.
const CHUNK: usize = 64 * 1024;

/// Byte `at` of the endless row text that follows the opening `[` (`at` >= 1): the first
/// row without its comma, then every further one with it.
fn row_byte(at: u64) -> u8 {
    let index = usize::try_from(at % UNIT.len() as u64).unwrap_or(0);
    UNIT.get(index).copied().unwrap_or(b' ')
}

/// Where the whole rows of a body of `total` bytes end (exclusive): the last multiple of
/// the row length that leaves room for the closing `]`.
fn rows_end(total: u64) -> u64 {
    let unit = UNIT.len() as u64;
    (total.saturating_sub(1) / unit * unit).max(1)
}

/// The bytes of a huge body from `offset` on, at most `len` of them: `[`, as many whole
/// rows as fit, spaces, `]`. A valid JSON array: only its size is hostile.
fn huge_chunk(total: u64, offset: u64, len: usize) -> Vec<u8> {
    let rows_end = rows_end(total);
    let end = total.min(offset.saturating_add(len as u64));
    (offset..end)
        .map(|at| {
            if at == 0 {
                b'['
            } else if at + 1 == total {
                b']'
            } else if at < rows_end {
                row_byte(at)
            } else {
                b' '
            }
        })
        .collect()
}

/// A 200 JSON-typed answer of exactly `bytes` bytes, streamed in chunks.
pub(super) fn huge_body(bytes: u64, declare_length: bool, shutdown: CancellationToken) -> Response {
    let chunks = futures::stream::unfold(0u64, move |offset| async move {
        if offset >= bytes {
            return None;
        }
        let chunk = huge_chunk(bytes, offset, CHUNK);
        let next = offset + chunk.len() as u64;
        Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), next))
    });
    let mut response = streamed(until_shutdown(chunks, shutdown));
    if declare_length {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes));
    }
    response
}

/// The bytes a trickle sends, one at a time: `[` then list rows for ever.
fn trickle_byte(index: u64) -> u8 {
    if index == 0 { b'[' } else { row_byte(index) }
}

/// A 200 JSON-typed answer whose headers go out at once, then one byte every `interval`.
pub(super) fn trickle(interval: Duration, shutdown: CancellationToken) -> Response {
    let bytes = futures::stream::unfold(0u64, move |index| async move {
        if index > 0 {
            tokio::time::sleep(interval).await;
        }
        let byte = Bytes::from(vec![trickle_byte(index)]);
        Some((Ok::<_, std::io::Error>(byte), index.saturating_add(1)))
    });
    streamed(until_shutdown(bytes, shutdown))
}

/// Ends `body` with an error (an aborted connection) once the simulator shuts down.
fn until_shutdown(
    body: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    shutdown: CancellationToken,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let body = Box::pin(body);
    futures::stream::unfold(Some((body, shutdown)), |state| async move {
        let (mut body, shutdown) = state?;
        tokio::select! {
            item = body.next() => item.map(|item| (item, Some((body, shutdown)))),
            () = shutdown.cancelled() => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "simulator shutting down",
                )),
                None,
            )),
        }
    })
}

fn streamed(body: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static) -> Response {
    let mut response = (StatusCode::OK, Body::from_stream(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(total: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut offset = 0;
        while offset < total {
            let chunk = huge_chunk(total, offset, 7);
            offset += chunk.len() as u64;
            out.extend(chunk);
        }
        out
    }

    #[test]
    fn a_huge_body_has_exactly_its_length_and_is_built_the_same_in_any_chunks() {
        let unit = UNIT.len() as u64;
        for total in [0, 1, 2, 3, 50, unit, unit + 1, unit + 2, 3 * unit + 1, 1000] {
            let body = whole(total);
            assert_eq!(body.len() as u64, total, "{total}");
            assert_eq!(body, huge_chunk(total, 0, 4096), "{total}");
            if total >= 2 {
                let value = serde_json::from_slice::<serde_json::Value>(&body);
                assert!(value.is_ok_and(|v| v.is_array()), "{total}: not an array");
            }
        }
    }

    #[test]
    fn a_huge_body_is_whole_rows_then_padding() {
        let total = UNIT.len() as u64 * 3 + 10;
        let rows: Vec<serde_json::Value> =
            serde_json::from_slice(&whole(total)).unwrap_or_default();
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| r["name"] == "huge-row"));
    }

    #[test]
    fn a_trickle_starts_an_array_of_rows() {
        let head: Vec<u8> = (0..=UNIT.len() as u64).map(trickle_byte).collect();
        assert_eq!(head[0], b'[');
        assert_eq!(&head[1..UNIT.len()], &UNIT[1..]);
        assert_eq!(head[UNIT.len()], b',');
    }
}
