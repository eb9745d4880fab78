//! Property-test settings.

/// `default` cases unless the `PROPTEST_CASES` environment variable says
/// otherwise (`ProptestConfig::with_cases` alone would override it), so
/// that a long run by hand needs no edit.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
