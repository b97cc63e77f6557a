//! serde-saphyr's `Spanned` protocol, spoken directly: how every node is read with its
//! byte span.

use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::source::Span;

/// serde-saphyr's name for a value read with its location (what its `Spanned<T>` asks for).
const SPANNED: &str = "__yaml_spanned";
/// The first field of serde-saphyr's spanned view, which marks it as one.
const SPANNED_MARKER: &str = "__serde_saphyr_private_spanned";

/// Reads a `T` with the span where it is referenced; see [`spanned_seed`].
pub(super) fn spanned<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<(T, Span), D::Error> {
    spanned_seed(deserializer, std::marker::PhantomData::<T>, |_| false)
}

/// Reads what `seed` reads, with the span where it is referenced, speaking serde-saphyr's
/// `Spanned` protocol directly: the same fields in the same order as its `Spanned<T>`
/// reads them, without allocating for the field names or reading the definition site,
/// which a manifest needs only for a value whose text is sent as written (`defined`, when
/// `at_definition` says so: a number reached through an alias is written at its anchor).
/// This runs for every node of a 10,000-order file.
pub(super) fn spanned_seed<'de, D: Deserializer<'de>, S: DeserializeSeed<'de>>(
    deserializer: D,
    seed: S,
    at_definition: fn(&S::Value) -> bool,
) -> Result<(S::Value, Span), D::Error> {
    struct Wrapper<'de, S: DeserializeSeed<'de>>(S, fn(&S::Value) -> bool);
    impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Wrapper<'de, S> {
        type Value = (S::Value, Span);
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a YAML value with its location")
        }
        fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_struct(
                "Spanned",
                &[SPANNED_MARKER, "value", "referenced", "defined"],
                Fields(self.0, self.1),
            )
        }
    }
    struct Fields<'de, S: DeserializeSeed<'de>>(S, fn(&S::Value) -> bool);
    impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Fields<'de, S> {
        type Value = (S::Value, Span);
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("serde-saphyr's spanned view of a value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            if !map.next_key::<FieldIs<0>>()?.is_some_and(|f| f.0) {
                return Err(de::Error::custom("the YAML reader gave no location"));
            }
            map.next_value::<de::IgnoredAny>()?;
            if !map.next_key::<FieldIs<1>>()?.is_some_and(|f| f.0) {
                return Err(de::Error::missing_field("value"));
            }
            let value = map.next_value_seed(self.0)?;
            if !map.next_key::<FieldIs<2>>()?.is_some_and(|f| f.0) {
                return Err(de::Error::missing_field("referenced"));
            }
            let WhereSpan(mut span) = map.next_value()?;
            // `defined` (where an alias's anchor is) is read only when asked for.
            if (self.1)(&value) && map.next_key::<FieldIs<7>>()?.is_some_and(|f| f.0) {
                let WhereSpan(defined) = map.next_value()?;
                span = defined.or(span);
            }
            Ok((value, span.unwrap_or_default()))
        }
    }
    deserializer.deserialize_newtype_struct(SPANNED, Wrapper(seed, at_definition))
}

/// Whether a field name of serde-saphyr's location views is the `N`th expected one.
struct FieldIs<const N: usize>(bool);

impl<'de, const N: usize> Deserialize<'de> for FieldIs<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Name<const N: usize>;
        impl<const N: usize> Visitor<'_> for Name<N> {
            type Value = FieldIs<N>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, v: &str) -> Result<FieldIs<N>, E> {
                const NAMES: [&str; 8] = [
                    SPANNED_MARKER,
                    "value",
                    "referenced",
                    "line",
                    "column",
                    "span",
                    "byte_info",
                    "defined",
                ];
                Ok(FieldIs(NAMES.get(N) == Some(&v)))
            }
        }
        d.deserialize_identifier(Name::<N>)
    }
}

/// The byte span of a serde-saphyr `Location` (`{line, column, span: {offset, len,
/// byte_info}, source_id}`), read for its `span.byte_info` alone.
struct WhereSpan(Option<Span>);

impl<'de> Deserialize<'de> for WhereSpan {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct LocationView;
        impl<'de> Visitor<'de> for LocationView {
            type Value = WhereSpan;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a location")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WhereSpan, A::Error> {
                let mut span = None;
                while let Some(is_span) = map.next_key::<FieldIs<5>>()? {
                    if is_span.0 {
                        span = map.next_value::<ByteInfo>()?.0;
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                Ok(WhereSpan(span))
            }
        }
        d.deserialize_struct(
            "Location",
            &["line", "column", "span", "source_id"],
            LocationView,
        )
    }
}

/// A serde-saphyr `Span` (`{offset, len, byte_info: (byte offset, byte length)}`), read
/// for its byte range; `None` when the reader had no byte positions.
struct ByteInfo(Option<Span>);

impl<'de> Deserialize<'de> for ByteInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SpanView;
        impl<'de> Visitor<'de> for SpanView {
            type Value = ByteInfo;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a span")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ByteInfo, A::Error> {
                // `offset` and `len` count characters; `byte_info` is what a Span holds.
                let mut found = None;
                while let Some(is_byte_info) = map.next_key::<FieldIs<6>>()? {
                    if is_byte_info.0 {
                        let (start, len) = map.next_value::<(u64, u64)>()?;
                        // serde-saphyr's marker for "no byte positions".
                        if start != u64::from(u32::MAX) {
                            found = Some(Span::new(start as usize, (start + len) as usize));
                        }
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                Ok(ByteInfo(found))
            }
        }
        d.deserialize_struct("Span", &["offset", "len", "byte_info"], SpanView)
    }
}
