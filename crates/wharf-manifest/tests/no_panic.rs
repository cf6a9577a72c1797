//! The loader never panics: arbitrary bytes and randomly mutated real Compose files
//! either load or fail with an error. Deterministic seeds, so a failure reproduces.

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

fn load_text(text: String) {
    let options = LoadOptions {
        files: vec![PathBuf::from("-")],
        working_dir: std::env::temp_dir(),
        interpolate: true,
        stdin: Some(text),
        project_name: Some("fuzz".to_owned()),
        ..LoadOptions::default()
    };
    let _ = load(&options);
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

#[test]
fn deeply_nested_input_is_an_error_not_a_stack_overflow() {
    load_text(format!("services: {}", "[".repeat(100_000)));
    load_text(format!("a: {}1{}", "[".repeat(5000), "]".repeat(5000)));
}
