//! Page tokens: MLflow's `base64({"offset": N})`, plus a hash of the query
//! in the tokens we issue so that a token is never applied to a different
//! query (field report B15: that silently returned wrong pages).
//!
//! Tokens without the hash (MLflow's own) are accepted as plain offsets.

use serde_json::Value as Json;

use super::request::{ExperimentSearchRequest, SearchRequest};
use crate::error::{Error, Result};
use crate::model::ViewType;

/// A decoded token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken {
    pub offset: usize,
    /// The query hash, absent in MLflow's tokens.
    pub query: Option<String>,
}

/// Encodes our token for `offset` bound to `query` (a [`run_query_hash`]).
pub fn encode_token(offset: usize, query: &str) -> String {
    base64_encode(format!("{{\"offset\": {offset}, \"q\": \"{query}\"}}").as_bytes())
}

/// Encodes MLflow's own token form (no query binding).
pub fn encode_mlflow_token(offset: usize) -> String {
    base64_encode(format!("{{\"offset\": {offset}}}").as_bytes())
}

/// Decodes a token with MLflow's error rules (SEMANTICS section 5).
pub fn decode_token(token: &str) -> Result<PageToken> {
    let bytes = base64_decode(token).ok_or_else(|| {
        Error::invalid(format!(
            "Invalid page token, could not base64-decode '{token}'"
        ))
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let parsed: Json = serde_json::from_str(&text)
        .map_err(|_| Error::invalid(format!("Invalid page token, decoded value={text}")))?;

    let offset = parsed.get("offset");
    if offset.is_none_or(is_falsy) {
        return Err(Error::invalid(format!(
            "Invalid page token, parsed value={parsed}"
        )));
    }
    let offset = offset.and_then(as_offset).ok_or_else(|| {
        let shown = match offset {
            Some(Json::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        Error::invalid(format!("Invalid page token, not stringable {shown}"))
    })?;
    let query = parsed.get("q").and_then(Json::as_str).map(str::to_string);
    Ok(PageToken { offset, query })
}

/// The offset a request resumes at: 0 without a token; a token issued for a
/// different query is rejected.
pub fn resume_offset(token: Option<&str>, query: &str) -> Result<usize> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let decoded = decode_token(token)?;
    match decoded.query {
        Some(q) if q != query => Err(Error::invalid(
            "Invalid page token: it was issued for a different query (experiment ids, filter, \
             order_by or view type changed)",
        )),
        _ => Ok(decoded.offset),
    }
}

/// Python's truthiness, which MLflow applies to the offset.
fn is_falsy(v: &Json) -> bool {
    match v {
        Json::Null => true,
        Json::Bool(b) => !b,
        Json::Number(n) => n.as_f64() == Some(0.0),
        Json::String(s) => s.is_empty(),
        Json::Array(a) => a.is_empty(),
        Json::Object(o) => o.is_empty(),
    }
}

/// Python's `int(offset)` for the forms that make sense as an offset.
fn as_offset(v: &Json) -> Option<usize> {
    let n = match v {
        Json::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f.trunc() as i64))?,
        Json::String(s) => s.trim().parse::<i64>().ok()?,
        Json::Bool(true) => 1,
        _ => return None,
    };
    usize::try_from(n).ok()
}

/// FNV-1a, 64 bit: small, stable across runs and platforms.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain([0xff].iter()) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

fn view_name(view: ViewType) -> &'static [u8] {
    match view {
        ViewType::ActiveOnly => b"ACTIVE_ONLY",
        ViewType::DeletedOnly => b"DELETED_ONLY",
        ViewType::All => b"ALL",
    }
}

/// The hash binding a run-search token to its query: experiment ids (as a
/// set), filter, order_by and view type.
pub fn run_query_hash(req: &SearchRequest) -> String {
    let mut ids: Vec<&str> = req.experiment_ids.iter().map(String::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut parts: Vec<&[u8]> = vec![b"runs"];
    parts.extend(ids.iter().map(|s| s.as_bytes()));
    parts.push(b"\x00filter");
    parts.push(req.filter.as_deref().unwrap_or("").as_bytes());
    parts.push(b"\x00order");
    parts.extend(req.order_by.iter().map(|s| s.as_bytes()));
    parts.push(view_name(req.view_type));
    format!("{:016x}", fnv1a(&parts))
}

/// The same for experiment searches.
pub fn experiment_query_hash(req: &ExperimentSearchRequest) -> String {
    let mut parts: Vec<&[u8]> = vec![b"experiments", b"\x00filter"];
    parts.push(req.filter.as_deref().unwrap_or("").as_bytes());
    parts.push(b"\x00order");
    parts.extend(req.order_by.iter().map(|s| s.as_bytes()));
    parts.push(view_name(req.view_type));
    format!("{:016x}", fnv1a(&parts))
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes base64 the lenient way Python's `base64.b64decode` does (which
/// MLflow uses): characters outside the alphabet are skipped, a complete
/// padding ends the input, and a final partial group is an error (`None`).
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut quad_pos, mut pads) = (0u32, 0usize, 0usize);
    for c in text.bytes() {
        if c == b'=' {
            pads += 1;
            if quad_pos >= 2 && quad_pos + pads >= 4 {
                return Some(out);
            }
            continue;
        }
        let Some(v) = ALPHABET.iter().position(|&a| a == c) else {
            continue;
        };
        pads = 0;
        acc = (acc << 6) | v as u32;
        quad_pos += 1;
        if quad_pos > 1 {
            let shift = 2 * (4 - quad_pos);
            out.push((acc >> shift) as u8);
            acc &= (1 << shift) - 1;
        }
        quad_pos %= 4;
    }
    (quad_pos == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlflow_tokens_round_trip() {
        assert_eq!(encode_mlflow_token(2), "eyJvZmZzZXQiOiAyfQ==");
        assert_eq!(encode_mlflow_token(4), "eyJvZmZzZXQiOiA0fQ==");
        assert_eq!(decode_token("eyJvZmZzZXQiOiAxMH0=").unwrap().offset, 10);
        assert_eq!(decode_token("eyJvZmZzZXQiOiAiMiJ9").unwrap().offset, 2);
    }

    #[test]
    fn mlflow_token_errors() {
        let msg = |t: &str| decode_token(t).unwrap_err().to_string();
        assert!(msg("not base64!").starts_with("Invalid page token, could not base64-decode"));
        assert!(msg(&base64_encode(b"nope")).starts_with("Invalid page token, decoded value="));
        assert!(msg("eyJvZmZzZXQiOiAwfQ==").starts_with("Invalid page token, parsed value="));
        assert!(msg(&base64_encode(b"{}")).starts_with("Invalid page token, parsed value="));
        assert!(msg("eyJvZmZzZXQiOiAieCJ9").starts_with("Invalid page token, not stringable"));
    }

    #[test]
    fn our_tokens_are_bound_to_the_query() {
        let a = SearchRequest {
            experiment_ids: vec!["1".into()],
            ..Default::default()
        };
        let b = SearchRequest {
            experiment_ids: vec!["2".into()],
            ..Default::default()
        };
        let token = encode_token(100, &run_query_hash(&a));
        assert_eq!(
            resume_offset(Some(&token), &run_query_hash(&a)).unwrap(),
            100
        );
        assert!(resume_offset(Some(&token), &run_query_hash(&b)).is_err());
        let plain = encode_mlflow_token(7);
        assert_eq!(resume_offset(Some(&plain), &run_query_hash(&b)).unwrap(), 7);
    }

    #[test]
    fn base64_matches_the_standard() {
        for (raw, enc) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v")] {
            assert_eq!(base64_encode(raw.as_bytes()), enc);
            assert_eq!(base64_decode(enc).unwrap(), raw.as_bytes());
        }
        assert!(base64_decode("Zg=a").is_none());
        assert!(base64_decode("Zg").is_none());
        assert_eq!(base64_decode("Z g=\n=").unwrap(), b"f");
        assert_eq!(base64_decode("Zg==trailing").unwrap(), b"f");
    }
}
