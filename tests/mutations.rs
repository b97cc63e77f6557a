//! Corrupted manifests (bytes flipped, deleted, duplicated, lines shuffled) give
//! diagnostics, never a panic, a hang or an unreadable report.

use std::path::PathBuf;

use nicsrs_batch::catalog::Catalog;
use nicsrs_batch::diagnostic::TextRenderer;
use nicsrs_batch::validate::{Options, validate};

mod common;

use common::Dice;

/// Mutated manifests per run (`MUTATION_ROUNDS` overrides, for a longer hunt).
static ROUNDS: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
    std::env::var("MUTATION_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000)
});

const NASTY: &[&[u8]] = &[
    b"\t",
    b"&a ",
    b"*a",
    b"<<: ",
    b"{",
    b"]",
    b"\"",
    b"'",
    b"\n- ",
    b": ",
    b"\xff",
    b"~",
    b"!!binary ",
    b"---\n",
    b"? ",
    b"|",
    b"#",
];

fn mutate(dice: &mut Dice, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=dice.below(4) {
        let at = dice.below(out.len());
        match dice.below(5) {
            0 => {
                let len = dice.below(40).min(out.len() - at);
                out.drain(at..at + len);
            }
            1 => {
                let piece = NASTY[dice.below(NASTY.len())];
                out.splice(at..at, piece.iter().copied());
            }
            2 => {
                let len = dice.below(200).min(out.len() - at);
                let copy = out[at..at + len].to_vec();
                let to = dice.below(out.len());
                out.splice(to..to, copy);
            }
            3 => out[at] = dice.next() as u8,
            _ => {
                let mut lines: Vec<&[u8]> = out.split(|b| *b == b'\n').collect();
                let (i, j) = (dice.below(lines.len()), dice.below(lines.len()));
                lines.swap(i, j);
                out = lines.join(&b'\n');
            }
        }
        if out.is_empty() {
            out.push(b'x');
        }
    }
    out
}

#[test]
fn corrupted_manifests_never_panic() {
    let dir = common::scratch("mutations");
    std::fs::create_dir_all(dir.join("csr")).expect("dir");
    for csr in ["shop-www.csr", "shop-api.csr", "cdn-wildcard.csr"] {
        std::fs::copy(
            common::root().join("examples/csr").join(csr),
            dir.join("csr").join(csr),
        )
        .expect("csr");
    }
    let seeds: Vec<Vec<u8>> = [
        "quickstart.yaml",
        "ov.yaml",
        "ev.yaml",
        "with-csr-files.yaml",
        "dv-multi-domain.yaml",
    ]
    .iter()
    .map(|f| std::fs::read(common::root().join("examples").join(f)).expect("example"))
    .collect();
    let options = Options {
        catalog: Catalog::builtin(),
        allow_inline_secrets: false,
    };
    let mut dice = Dice(
        std::env::var("MUTATION_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20261130),
    );
    let (mut invalid, mut valid) = (0, 0);
    for round in 0..*ROUNDS {
        let seed = &seeds[round % seeds.len()];
        let path: PathBuf = dir.join("m.yaml");
        std::fs::write(&path, mutate(&mut dice, seed)).expect("write");
        let outcome = validate(std::slice::from_ref(&path), &options)
            .expect("a readable file always validates");
        let renderer = TextRenderer::new(&outcome.sources, false);
        for d in &outcome.diagnostics {
            let text = renderer.render(d);
            assert!(text.contains(&format!("[{}]", d.code)), "{text}");
        }
        if outcome.is_valid() {
            valid += 1;
        } else {
            invalid += 1;
            assert!(!outcome.diagnostics.is_empty());
        }
    }
    assert!(
        invalid > *ROUNDS / 2,
        "most mutations break something: {invalid} invalid, {valid} valid"
    );
}
