//! Generated run names, in MLflow's style (`adjective-noun-number`).

const ADJECTIVES: &[&str] = &[
    "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "dapper", "eager", "fancy", "gentle", "glad",
    "honest", "keen", "kind", "lively", "lucky", "merry", "nimble", "polite", "quick", "quiet", "rare", "silent",
    "smooth", "sunny", "swift", "tidy", "vivid", "warm", "wise", "zesty",
];
const NOUNS: &[&str] = &[
    "ant", "bass", "bear", "crane", "deer", "dove", "eel", "falcon", "finch", "fox", "frog", "goat", "hare", "hawk",
    "heron", "ibis", "koala", "lark", "lynx", "mole", "moth", "newt", "otter", "owl", "panda", "seal", "shrew",
    "snail", "swan", "toad", "whale", "wren",
];

/// A new run name from random numbers, e.g. `swift-otter-417`.
pub(crate) fn random_run_name() -> String {
    let [first, second, third, fourth]: [u8; 4] = rand::random();
    let number = u16::from_le_bytes([third, fourth]) % 1000;
    format!(
        "{}-{}-{number}",
        ADJECTIVES[usize::from(first) % ADJECTIVES.len()],
        NOUNS[usize::from(second) % NOUNS.len()]
    )
}
