//! Run ids and MLflow-style random run names.

/// A new run id: 32 lowercase hex characters (a random UUID without dashes).
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

const ADJECTIVES: [&str; 24] = [
    "able", "bold", "brave", "bright", "calm", "clever", "crisp", "eager", "fair", "gentle",
    "glad", "grand", "keen", "kind", "lucid", "merry", "noble", "proud", "quick", "quiet",
    "sharp", "swift", "warm", "wise",
];

const NOUNS: [&str; 24] = [
    "ant", "bass", "bear", "bee", "carp", "cat", "crow", "deer", "dove", "duck", "eel", "elk",
    "fox", "frog", "gnu", "hare", "hawk", "lark", "mole", "moth", "owl", "ram", "seal", "wolf",
];

/// A random `<adjective>-<noun>-<0..999>` name of at most 20 characters,
/// the shape MLflow gives runs created without a name.
pub fn random_run_name() -> String {
    let bits = uuid::Uuid::new_v4().as_u128();
    let adjective = ADJECTIVES[(bits % 24) as usize];
    let noun = NOUNS[((bits >> 8) % 24) as usize];
    let number = (bits >> 16) % 1000;
    format!("{adjective}-{noun}-{number}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_32_lowercase_hex() {
        let id = new_run_id();
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(id, new_run_id());
    }

    #[test]
    fn run_names_are_short_and_three_part() {
        for _ in 0..100 {
            let name = random_run_name();
            assert!(name.len() <= 20, "{name}");
            assert_eq!(name.split('-').count(), 3);
        }
    }
}
