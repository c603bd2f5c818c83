//! Whatever the input, the loader returns; it never panics.

use std::sync::LazyLock;

use proptest::collection::vec;
use proptest::prelude::*;

use super::fixture;

static FIXTURES: LazyLock<[String; 3]> = LazyLock::new(|| {
    [
        fixture("order-service.yaml"),
        fixture("external-and-mirror.yaml"),
        fixture("security.yaml"),
    ]
});

fn exercise(text: &str) {
    if let Ok(builder) = super::super::load(text) {
        let _ = builder.build();
    }
}

/// Characters that matter to YAML, digits, and anything else.
fn yaml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            ':', '-', ' ', '\n', '[', ']', '{', '}', '*', '&', '!', '#', '"', '\'', '|', '>', '0',
            '9', '.', ',', '%', '@', '?'
        ]),
        any::<char>(),
    ]
}

/// Applies edits (position, operation, character) to `text`.
fn mutate(text: &str, edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for &(position, op, c) in edits {
        let i = position % (chars.len() + 1);
        match op % 4 {
            0 if i < chars.len() => {
                chars.remove(i);
            }
            1 => chars.insert(i, c),
            2 if i < chars.len() => chars[i] = c,
            3 => {
                // Repeat a short stretch: duplicates keys, lines, documents.
                let end = (i + usize::from(op % 64)).min(chars.len());
                let stretch = chars[i..end].to_vec();
                chars.splice(i..i, stretch);
            }
            _ => chars.insert(i, c),
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        exercise(&text);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..3usize,
        edits in vec((any::<usize>(), any::<u8>(), yaml_char()), 1..10),
    ) {
        exercise(&mutate(&FIXTURES[which], &edits));
    }
}

#[test]
fn pathological_documents_are_errors() {
    let deep = "[".repeat(10_000);
    assert!(super::super::load(&deep).is_err());
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    exercise(bomb);
    exercise("\u{feff}kind: VirtualService\n");
    exercise("---\n...\n---\n");
}
