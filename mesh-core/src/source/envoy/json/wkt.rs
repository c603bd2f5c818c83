//! The proto3 JSON mapping of the well-known types the mirrors use:
//! integers (numbers or strings), durations (`"1.5s"`), enums (names or
//! numbers), `google.protobuf.Struct` (and the `Metadata` made of them)
//! and `google.protobuf.Any`.
//!
//! Parsing happens during deserialization, so a malformed value is
//! reported by serde_yaml with its path and line. `Any` is read as an
//! object whose `"@type"` selects the message its other fields form; when
//! `"@type"` comes first (as every proto3 JSON writer puts it) the body is
//! streamed with positions intact, otherwise it is buffered first.

use std::fmt;
use std::marker::PhantomData;

use envoy_types::pb::google::protobuf::{
    Duration as PbDuration, ListValue, Struct, UInt32Value, Value, value::Kind,
};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::source::envoy::proto::{MAX_DURATION_SECS, type_name};

/// Proto3 JSON's `null` means "default": accepts it for any field.
pub(in crate::source::envoy) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// An integer written as a number or a string holding one.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Int<T>(pub T);

impl<'de, T: TryFrom<i128>> Deserialize<'de> for Int<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<T: TryFrom<i128>> V<T> {
            fn fit<E: de::Error>(v: i128) -> Result<Int<T>, E> {
                T::try_from(v).map(Int).map_err(|_| {
                    E::custom(format!(
                        "{v} is out of range for {}",
                        std::any::type_name::<T>()
                    ))
                })
            }
        }
        impl<T: TryFrom<i128>> Visitor<'_> for V<T> {
            type Value = Int<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer, or a string holding one")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int<T>, E> {
                Self::fit(v.into())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int<T>, E> {
                Self::fit(v.into())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int<T>, E> {
                // 1e3 or 5.0 are integers in proto3 JSON; the cast
                // saturates, and out-of-range values fail in `fit`.
                if v.fract() != 0.0 {
                    return Err(E::custom(format!("{v} is not an integer")));
                }
                Self::fit(v as i128)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int<T>, E> {
                let n = v
                    .parse::<i128>()
                    .map_err(|_| E::custom(format!("{v:?} is not an integer")))?;
                Self::fit(n)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A `double` written as a number or a string holding one (proto3 JSON
/// also spells the special values `"NaN"`, `"Infinity"`, `"-Infinity"`);
/// whether the value makes sense is the conversion's call.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Double(pub f64);

impl<'de> Deserialize<'de> for Double {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Double;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, or a string holding one")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Double, E> {
                Ok(Double(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Double, E> {
                Ok(Double(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Double, E> {
                Ok(Double(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Double, E> {
                v.parse::<f64>()
                    .map(Double)
                    .map_err(|_| E::custom(format!("{v:?} is not a number")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A `google.protobuf.Duration` written as `"1.5s"`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Dur(pub PbDuration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor, not `String::deserialize` then a check: an error
        // raised inside the scalar's visit gets the scalar's own path and
        // position from serde_yaml.
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"1.5s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                parse_duration(v).map(Dur).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// Parses proto3 JSON's duration: decimal seconds with up to nine
/// fractional digits and an `s` suffix, optionally negative.
pub(super) fn parse_duration(s: &str) -> Result<PbDuration, String> {
    let bad = |why: &str| format!("invalid duration {s:?}: {why} (write e.g. \"1.5s\")");
    let body = s
        .strip_suffix('s')
        .ok_or_else(|| bad("missing the 's' suffix"))?;
    let (negative, body) = match body.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return Err(bad("not a decimal number of seconds"));
    }
    if frac.len() > 9 {
        return Err(bad("more than nine fractional digits"));
    }
    let seconds = if int.is_empty() {
        0
    } else {
        int.parse::<i64>()
            .ok()
            .filter(|s| *s <= MAX_DURATION_SECS)
            .ok_or_else(|| bad("out of range"))?
    };
    let nanos = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}")
            .parse::<i32>()
            .map_err(|_| bad("bad fraction"))?
    };
    let sign = if negative { -1 } else { 1 };
    Ok(PbDuration {
        seconds: sign * seconds,
        nanos: sign as i32 * nanos,
    })
}

/// A prost enumeration, by its proto name.
pub(super) trait ProtoEnum {
    /// The enum's proto name, for messages.
    const NAME: &'static str;
    /// The value named `name`.
    fn from_name(name: &str) -> Option<i32>;
}

/// Implements [`ProtoEnum`] for prost enums.
macro_rules! proto_enums {
    ($($ty:ty => $name:literal),* $(,)?) => {$(
        impl $crate::source::envoy::json::wkt::ProtoEnum for $ty {
            const NAME: &'static str = $name;
            fn from_name(name: &str) -> Option<i32> {
                <$ty>::from_str_name(name).map(|v| v as i32)
            }
        }
    )*};
}
pub(super) use proto_enums;

/// An enum field: its name, or its number (unknown numbers pass through
/// and are judged by the proto → model conversion, as on the wire).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Enum<E>(pub i32, PhantomData<E>);

impl<'de, E: ProtoEnum> Deserialize<'de> for Enum<E> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<E>(PhantomData<E>);
        impl<E: ProtoEnum> Visitor<'_> for V<E> {
            type Value = Enum<E>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a {} name or number", E::NAME)
            }
            fn visit_str<Er: de::Error>(self, v: &str) -> Result<Enum<E>, Er> {
                E::from_name(v)
                    .map(|n| Enum(n, PhantomData))
                    .ok_or_else(|| Er::custom(format!("unknown {} {v:?}", E::NAME)))
            }
            fn visit_i64<Er: de::Error>(self, v: i64) -> Result<Enum<E>, Er> {
                i32::try_from(v)
                    .map(|n| Enum(n, PhantomData))
                    .map_err(|_| Er::custom(format!("{v} is out of range for {}", E::NAME)))
            }
            fn visit_u64<Er: de::Error>(self, v: u64) -> Result<Enum<E>, Er> {
                i32::try_from(v)
                    .map(|n| Enum(n, PhantomData))
                    .map_err(|_| Er::custom(format!("{v} is out of range for {}", E::NAME)))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A `google.protobuf.UInt32Value` from its JSON form.
pub(super) fn u32_value(v: Option<Int<u32>>) -> Option<UInt32Value> {
    v.map(|v| UInt32Value { value: v.0 })
}

/// The value of an optional enum field (0, the proto default, when absent).
pub(super) fn enum_value<E>(e: Option<Enum<E>>) -> i32 {
    e.map_or(0, |e| e.0)
}

/// A JSON object, for `google.protobuf.Struct`.
pub(super) type JsonObject = serde_json::Map<String, serde_json::Value>;

/// `google.protobuf.Struct` from its JSON form.
pub(super) fn to_struct(object: JsonObject) -> Struct {
    Struct {
        fields: object.into_iter().map(|(k, v)| (k, to_value(v))).collect(),
    }
}

fn to_value(v: serde_json::Value) -> Value {
    use serde_json::Value as J;
    let kind = match v {
        J::Null => Kind::NullValue(0),
        J::Bool(b) => Kind::BoolValue(b),
        J::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
        J::String(s) => Kind::StringValue(s),
        J::Array(items) => Kind::ListValue(ListValue {
            values: items.into_iter().map(to_value).collect(),
        }),
        J::Object(o) => Kind::StructValue(to_struct(o)),
    };
    Value { kind: Some(kind) }
}

/// `config.core.v3.Metadata`: its `filter_metadata` structs.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct Metadata {
    #[serde(alias = "filterMetadata", deserialize_with = "nullable")]
    filter_metadata: std::collections::HashMap<String, JsonObject>,
}

impl Metadata {
    pub(super) fn into_proto(self) -> envoy_types::pb::envoy::config::core::v3::Metadata {
        envoy_types::pb::envoy::config::core::v3::Metadata {
            filter_metadata: self
                .filter_metadata
                .into_iter()
                .map(|(k, v)| (k, to_struct(v)))
                .collect(),
            typed_filter_metadata: Default::default(),
        }
    }
}

/// The message types an `Any` field may hold, chosen by `"@type"`.
pub(in crate::source::envoy) trait AnyBody: Sized {
    /// Reads the body (every field but `"@type"`) of a message of type
    /// `type_name` (what follows the type URL's last `/`).
    fn deserialize_body<'de, D: Deserializer<'de>>(
        type_name: &str,
        body: D,
    ) -> Result<Self, D::Error>;
}

/// Any message: only the type matters, the body is skipped.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Opaque;

impl AnyBody for Opaque {
    fn deserialize_body<'de, D: Deserializer<'de>>(_: &str, body: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(body)?;
        Ok(Self)
    }
}

/// A `google.protobuf.Any` in proto3 JSON form.
#[derive(Debug, Clone)]
pub(in crate::source::envoy) struct AnyOf<B> {
    /// The `"@type"` as written.
    pub type_url: String,
    /// The message it selected.
    pub body: B,
}

impl<'de, B: AnyBody> Deserialize<'de> for AnyOf<B> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(AnyVisitor(PhantomData))
    }
}

struct AnyVisitor<B>(PhantomData<B>);

impl<'de, B: AnyBody> Visitor<'de> for AnyVisitor<B> {
    type Value = AnyOf<B>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with an \"@type\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyOf<B>, A::Error> {
        let first: Option<serde_yaml::Value> = map.next_key()?;
        if first.as_ref().and_then(serde_yaml::Value::as_str) == Some("@type") {
            let type_url: String = map.next_value()?;
            let body = de::value::MapAccessDeserializer::new(map);
            let body = B::deserialize_body(type_name(&type_url), body)?;
            return Ok(AnyOf { type_url, body });
        }
        let mut rest = serde_yaml::Mapping::new();
        if let Some(key) = first {
            rest.insert(key, map.next_value()?);
        }
        while let Some((k, v)) = map.next_entry::<serde_yaml::Value, serde_yaml::Value>()? {
            rest.insert(k, v);
        }
        let type_url = match rest.remove("@type") {
            Some(serde_yaml::Value::String(s)) => s,
            Some(_) => return Err(de::Error::custom("\"@type\" must be a string")),
            None => return Err(de::Error::custom("missing \"@type\"")),
        };
        let body = B::deserialize_body(type_name(&type_url), serde_yaml::Value::Mapping(rest))
            .map_err(de::Error::custom)?;
        Ok(AnyOf { type_url, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = |s: &str| parse_duration(s).map(|d| (d.seconds, d.nanos)).unwrap();
        assert_eq!(ok("1.5s"), (1, 500_000_000));
        assert_eq!(ok("0s"), (0, 0));
        assert_eq!(ok("0.000000001s"), (0, 1));
        assert_eq!(ok("-2.25s"), (-2, -250_000_000));
        assert_eq!(ok(".5s"), (0, 500_000_000));
        for bad in [
            "",
            "s",
            "1",
            "1.5",
            "1ms",
            "-s",
            "1.s5",
            "1.0000000001s",
            "99999999999999999999s",
            "+1s",
            "1 s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn integers_accept_numbers_and_strings() {
        let int = |s: &str| serde_yaml::from_str::<Int<u32>>(s).map(|i| i.0);
        assert_eq!(int("7").unwrap(), 7);
        assert_eq!(int("'7'").unwrap(), 7);
        assert_eq!(int("7.0").unwrap(), 7);
        assert!(int("-1").is_err());
        assert!(int("4294967296").is_err());
        assert!(int("1.5").is_err());
        assert!(int("x").is_err());
        let big = serde_yaml::from_str::<Int<u64>>("\"18446744073709551615\"").unwrap();
        assert_eq!(big.0, u64::MAX);
    }

    #[test]
    fn doubles_accept_numbers_and_strings() {
        let double = |s: &str| serde_yaml::from_str::<Double>(s).map(|d| d.0);
        assert_eq!(double("12.5").unwrap(), 12.5);
        assert_eq!(double("20").unwrap(), 20.0);
        assert_eq!(double("'0.25'").unwrap(), 0.25);
        assert_eq!(double("'-Infinity'").unwrap(), f64::NEG_INFINITY);
        assert!(double("'NaN'").unwrap().is_nan());
        assert!(double("half").is_err());
        assert!(double("[1]").is_err());
    }

    #[test]
    fn any_reads_the_type_first_or_later() {
        #[derive(Debug, PartialEq)]
        enum Body {
            Named(String),
            Other,
        }
        impl AnyBody for Body {
            fn deserialize_body<'de, D: Deserializer<'de>>(
                t: &str,
                d: D,
            ) -> Result<Self, D::Error> {
                #[derive(serde::Deserialize)]
                struct Named {
                    name: String,
                }
                if t == "acme.Named" {
                    return Named::deserialize(d).map(|n| Body::Named(n.name));
                }
                IgnoredAny::deserialize(d)?;
                Ok(Body::Other)
            }
        }
        let any = |s: &str| serde_yaml::from_str::<AnyOf<Body>>(s).map(|a| a.body);
        assert_eq!(
            any("{'@type': x/acme.Named, name: a}").unwrap(),
            Body::Named("a".into())
        );
        assert_eq!(
            any("{name: b, '@type': x/acme.Named}").unwrap(),
            Body::Named("b".into())
        );
        assert_eq!(any("{'@type': x/acme.Other, n: [1]}").unwrap(), Body::Other);
        assert!(any("{name: b}").unwrap_err().to_string().contains("@type"));
        let e = any("{'@type': x/acme.Named, name: [1]}").unwrap_err();
        assert!(e.location().is_some(), "{e}");
    }
}
