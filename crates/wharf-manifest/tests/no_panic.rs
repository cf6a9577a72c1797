//! The loader never panics: arbitrary bytes and randomly mutated real Compose files
//! either load or fail with an error. Deterministic seeds, so a failure reproduces.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use wharf_manifest::{LoadOptions, load};

/// xorshift64*: small, deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Loading `text` as a compose file read from standard input.
fn options(text: String) -> LoadOptions {
    LoadOptions {
        files: vec![PathBuf::from("-")],
        working_dir: std::env::temp_dir(),
        interpolate: true,
        stdin: Some(text),
        project_name: Some("fuzz".to_owned()),
        ..LoadOptions::default()
    }
}

fn load_text(text: String) {
    let _ = load(&options(text));
}

fn corpus() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/compose");
    let mut texts: Vec<String> = std::fs::read_dir(dir)
        .expect("fixtures exist")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("compose.yaml")).ok())
        .collect();
    texts.sort();
    assert!(texts.len() > 20, "fixture corpus missing");
    texts
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xFF) as u8).collect();
        load_text(String::from_utf8_lossy(&bytes).into_owned());
    }
}

#[test]
fn mutated_compose_files_never_panic() {
    const ALPHABET: &[u8] = b" :-[]{}\n\t'\"$#&*!|>,?%@`0123456789abcxyz<=.~/\\";
    let corpus = corpus();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..4000 {
        let mut bytes = corpus[rng.below(corpus.len())].clone().into_bytes();
        for _ in 0..=rng.below(4) {
            if bytes.is_empty() {
                break;
            }
            let at = rng.below(bytes.len());
            match rng.below(3) {
                0 => bytes[at] = ALPHABET[rng.below(ALPHABET.len())],
                1 => bytes.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
                _ => {
                    bytes.remove(at);
                }
            }
        }
        load_text(String::from_utf8_lossy(&bytes).into_owned());
    }
}

/// Pieces of YAML and Compose that mutations splice in: structure, not just bytes.
const FRAGMENTS: &[&str] = &[
    "&a ",
    "*a",
    "<<: *a\n",
    "!reset ",
    "!override ",
    "${X:-",
    "${X:?no}",
    "$$",
    "extends: web\n",
    "include: [other.yaml]\n",
    "- ",
    "? ",
    "{",
    "}",
    "[",
    "]",
    "\n  ",
    "\n    ",
    ": ",
    "---\n",
    "ports: [\"99999:80\"]\n",
    "depends_on: [web]\n",
    "x-wharf: {process: {command: x}}\n",
];

/// For a while (10 s unless `WHARF_FUZZ_SECONDS` says), from a fresh seed each run
/// (printed, and taken from `WHARF_FUZZ_SEED` to reproduce): real files cut and spliced
/// with bytes and YAML fragments. No panic, and memory stays bounded.
#[test]
fn a_timed_run_of_spliced_files_never_panics_nor_grows_without_bound() {
    let seconds: u64 = std::env::var("WHARF_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("WHARF_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64 | 1)
        });
    println!("WHARF_FUZZ_SEED={seed}");
    let corpus = corpus();
    let mut rng = Rng(seed);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let mut cases = 0u64;
    while std::time::Instant::now() < deadline {
        let mut text = corpus[rng.below(corpus.len())].clone();
        for _ in 0..=rng.below(6) {
            let at = (0..=rng.below(text.len().max(1)))
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            match rng.below(4) {
                0 => text.insert_str(at, FRAGMENTS[rng.below(FRAGMENTS.len())]),
                1 => {
                    let other = &corpus[rng.below(corpus.len())];
                    let from = (0..=rng.below(other.len().max(1)))
                        .rev()
                        .find(|i| other.is_char_boundary(*i))
                        .unwrap_or(0);
                    text.insert_str(at, &other[from..]);
                }
                2 => text.truncate(at),
                _ => {
                    let line = text[at..].lines().next().unwrap_or_default().to_owned();
                    text.insert_str(at, &format!("{line}\n{line}\n"));
                }
            }
        }
        load_text(text);
        cases += 1;
    }
    let peak_kib: u64 = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    println!("{cases} cases, peak memory {peak_kib} KiB");
    assert!(cases > 100, "only {cases} cases ran");
    assert!(
        peak_kib < 512 * 1024,
        "memory peaked at {peak_kib} KiB (seed {seed})"
    );
}

#[test]
fn aliases_that_expand_without_end_are_an_error() {
    let mut text = String::from("x-0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..12 {
        let previous = format!("*l{}", level - 1);
        let _ = writeln!(
            text,
            "x-{level}: &l{level} [{}]",
            vec![previous; 9].join(", ")
        );
    }
    text.push_str("services: {web: {image: x}}\n");
    let error = load(&options(text)).unwrap_err().to_string();
    assert!(
        error.contains("aliases in this file expand to more than"),
        "{error}"
    );
}

#[test]
fn deeply_nested_input_is_an_error_not_a_stack_overflow() {
    load_text(format!("services: {}", "[".repeat(100_000)));
    load_text(format!("a: {}1{}", "[".repeat(5000), "]".repeat(5000)));
}
