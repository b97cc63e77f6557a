//! Parsing that hands each order over as soon as it is read, so that checking the orders
//! overlaps with parsing the rest of the file.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, mpsc};

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::spanned::spanned_seed;
use super::{Entry, KeyText, Node, Origin, SpannedKey, Value, ValueVisitor, YamlError};

/// Where [`parse_streaming`] hands over what it has read while it reads on.
pub struct OrderStream {
    /// Set once, before the first order is sent: the top-level entries written before
    /// `orders` (`version`, `refIdPrefix`, `defaults`, …).
    pub frame: Arc<OnceLock<Vec<Entry>>>,
    /// Each item of the top-level `orders` sequence with its index, in file order.
    pub orders: mpsc::Sender<(usize, Node)>,
    /// Set when a `defaults` or `refIdPrefix` first appears after `orders`: the orders
    /// sent were read before what they are merged with, and checking them is wasted.
    pub stale: Arc<AtomicBool>,
}

/// Parses like [`super::parse`], but sends each item of the first top-level `orders`
/// sequence to `stream` as soon as it is read instead of keeping it: that sequence is
/// empty (with its span) in the returned tree. The stream is closed when this returns.
pub fn parse_streaming(text: &str, stream: OrderStream) -> Result<Node, YamlError> {
    super::parse_with(text, Some(stream))
}

thread_local! {
    /// The stream of the parse running on this thread; the root takes it.
    static STREAM: RefCell<Option<OrderStream>> = const { RefCell::new(None) };
}

/// Sets (or with `None`, drops) the stream of the parse about to run on this thread.
pub(super) fn install(stream: Option<OrderStream>) {
    STREAM.with(|s| *s.borrow_mut() = stream);
}

/// The document's root: a [`Node`], whose `orders` go to the installed stream, if any.
pub(super) struct Root(pub(super) Node);

impl<'de> Deserialize<'de> for Root {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Some(stream) = STREAM.with(|s| s.borrow_mut().take()) else {
            return Node::deserialize(deserializer).map(Root);
        };
        let (value, span) = spanned_seed(deserializer, RootValue(stream), |_| false)?;
        Ok(Root(Node {
            value,
            span,
            origin: Origin::Order,
        }))
    }
}

/// Forwards every scalar (and `Some`) to [`ValueVisitor`]: the visitors here differ only
/// in how they read a sequence or a mapping.
macro_rules! forward_scalars_to_value_visitor {
    () => {
        forward_scalars_to_value_visitor!(
            visit_unit(),
            visit_none(),
            visit_bool(v: bool),
            visit_i64(v: i64),
            visit_u64(v: u64),
            visit_i128(v: i128),
            visit_u128(v: u128),
            visit_f64(v: f64),
            visit_str(v: &str),
            visit_string(v: String),
            visit_bytes(v: &[u8]),
        );
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            ValueVisitor.visit_some(d)
        }
    };
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        $(fn $method<E: de::Error>(self, $($arg: $ty),*) -> Result<Value, E> {
            ValueVisitor.$method($($arg),*)
        })*
    };
}

/// The root's value: a mapping whose `orders` are streamed; anything else as usual.
struct RootValue(OrderStream);

impl<'de> DeserializeSeed<'de> for RootValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RootValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    forward_scalars_to_value_visitor!();
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        ValueVisitor.visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let stream = self.0;
        let mut entries = Vec::new();
        let mut streamed = false;
        while let Some(SpannedKey(KeyText(key), key_span)) = map.next_key()? {
            let value = if !streamed && key == "orders" {
                streamed = true;
                // The first `orders` is read once, here: what came before it is the frame
                // its orders are checked against.
                let _ = stream.frame.set(entries.clone());
                let (value, span) = map.next_value_seed(Spanned(Orders(&stream.orders)))?;
                Node {
                    value,
                    span,
                    origin: Origin::Order,
                }
            } else {
                if streamed
                    && matches!(key.as_str(), "defaults" | "refIdPrefix")
                    && !entries.iter().any(|e| e.key == key)
                {
                    stream.stale.store(true, Ordering::Relaxed);
                }
                map.next_value::<Node>()?
            };
            entries.push(Entry {
                key,
                key_span,
                value,
            });
        }
        Ok(Value::Map(entries))
    }
}

/// A value read with its span by `S`.
struct Spanned<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Spanned<S> {
    type Value = (S::Value, crate::source::Span);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        spanned_seed(d, self.0, |_| false)
    }
}

/// The value of `orders`: a sequence's items are sent, not kept; anything else is kept
/// for the schema to report.
struct Orders<'s>(&'s mpsc::Sender<(usize, Node)>);

impl<'de> DeserializeSeed<'de> for Orders<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Orders<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    forward_scalars_to_value_visitor!();
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        ValueVisitor.visit_map(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut index = 0;
        while let Some(order) = seq.next_element::<Node>()? {
            self.0
                .send((index, order))
                .map_err(|_| de::Error::custom("the order checks stopped"))?;
            index += 1;
        }
        Ok(Value::Seq(Vec::new()))
    }
}
