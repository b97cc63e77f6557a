//! Corrupted manifests (bytes flipped, deleted, duplicated, lines shuffled) give
//! diagnostics, never a panic, a hang or an unreadable report; every diagnostic points
//! inside its file with a documented code; and whatever a corruption leaves valid expands
//! into requests that NicSRS's own rules (the order schema the sandbox holds them to) accept.

use std::path::PathBuf;

use nicsrs_batch::catalog::Catalog;
use nicsrs_batch::diagnostic::TextRenderer;
use nicsrs_batch::schema::Schema;
use nicsrs_batch::validate::{Options, validate};
use serde_json::{Value, json};

mod common;

use common::{Dice, documented_codes};

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
    let documented = documented_codes();
    let (mut invalid, mut valid) = (0, 0);
    for round in 0..*ROUNDS {
        let seed = &seeds[round % seeds.len()];
        let path: PathBuf = dir.join("m.yaml");
        std::fs::write(&path, mutate(&mut dice, seed)).expect("write");
        let outcome = validate(std::slice::from_ref(&path), &options)
            .expect("a readable file always validates");
        let written = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
        let renderer = TextRenderer::new(&outcome.sources, false);
        for d in &outcome.diagnostics {
            let text = renderer.render(d);
            assert!(text.contains(&format!("[{}]", d.code)), "{text}");
            assert!(
                documented.contains(d.code.name()),
                "round {round}: `{}` is not a documented code\n{text}",
                d.code
            );
            // A position is a place in the file as shown (a file that is not UTF-8 is shown
            // with U+FFFD for its bad bytes): within it, on character boundaries.
            if let Some(span) = d.place.and_then(|p| p.span) {
                let (start, end) = (span.start as usize, span.end as usize);
                assert!(
                    start <= end
                        && end <= written.len()
                        && written.is_char_boundary(start)
                        && written.is_char_boundary(end),
                    "round {round}: {start}..{end} is outside the file of {} bytes or splits a character\n{text}",
                    written.len()
                );
            }
        }
        if outcome.is_valid() {
            valid += 1;
            // What a corruption left valid is what would be sent: NicSRS's rules accept it.
            for order in &outcome.orders {
                let mut params: Value = serde_json::from_str(&order.params).expect("params");
                for contact in ["Administrator", "tech", "finance"] {
                    if let Some(c) = params.get_mut(contact).and_then(Value::as_object_mut)
                        && let Some(org) = c.remove("organation")
                    {
                        c.entry("organization").or_insert(org);
                    }
                }
                let product = options
                    .catalog
                    .get(&order.product_code)
                    .expect("a known product");
                let instance = json!({
                    "productCode": order.product_code,
                    "years": order.years,
                    "refId": order.ref_id,
                    "params": params,
                    "product": product.rule_object(),
                });
                let issues = Schema::order().check(&instance);
                assert!(
                    issues.is_empty(),
                    "round {round}: `{}` is valid but NicSRS's rules refuse it: {:?}\n---\n{written}",
                    order.key,
                    issues.iter().map(|i| &i.message).collect::<Vec<_>>()
                );
            }
        } else {
            invalid += 1;
        }
    }
    assert!(
        invalid > *ROUNDS / 2,
        "most mutations break something: {invalid} invalid, {valid} valid"
    );
    assert!(
        valid > 0,
        "some mutations leave a valid manifest to check against the API's rules"
    );
}
