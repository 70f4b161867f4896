//! Generated state messages, rendered as JSON text in many ways (whitespace, needless
//! escapes, lone surrogates, repeated keys) and broken in many ways: the inputs the
//! legacy → per-partition scanner is checked on against serde_json (its unit tests), and the
//! Python SDK's version against it (`python_parity.rs`).
#![allow(dead_code)]

use proptest::prelude::*;

/// A JSON value to render as text in many ways. Objects may repeat keys.
#[derive(Clone, Debug)]
pub enum Json {
    Null,
    Bool(bool),
    Number(&'static str),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Stands for an escaped lone surrogate in a [`Json::String`], which a Rust string cannot hold.
pub const LONE_SURROGATE: char = '\u{FDD0}';

pub fn obj(fields: Vec<(&str, Json)>) -> Json {
    Json::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

pub fn text(s: &str) -> Json {
    Json::String(s.to_owned())
}

/// Strings that mean something to the migration, and odd ones.
pub fn strings() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["campaigns", "updated_time", "1", "549755885175", "STREAM", "states", "state", "id", ""]).prop_map(str::to_owned),
        2 => "[a-z0-9]{0,4}",
        1 => "\\PC{0,3}",
        1 => prop::sample::select(vec!["a\"b\\", "\u{0}\u{1f}\n\t", "\u{7f}\u{2028}/", "é😀", "\u{FDD0}"]).prop_map(str::to_owned),
    ]
}

pub fn numbers() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "0",
        "-0",
        "7",
        "-12",
        "1.5",
        "1e5",
        "1E+2",
        "-0.0e-3",
        "1628867244",
        "123456789012345678901234567890",
        "2e308",
    ])
}

pub fn values() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        numbers().prop_map(Json::Number),
        strings().prop_map(Json::String),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Json::Array),
            prop::collection::vec((strings(), inner), 0..3).prop_map(Json::Object),
        ]
    })
}

/// A cursor object, mostly `{"updated_time": v}`.
pub fn cursors() -> impl Strategy<Value = Json> {
    prop_oneof![
        16 => values().prop_map(|v| obj(vec![("updated_time", v)])),
        1 => (strings(), values()).prop_map(|(k, v)| Json::Object(vec![(k, v)])),
        1 => values(),
    ]
}

/// A stream state, mostly legacy.
pub fn stream_states() -> impl Strategy<Value = Json> {
    let ids = prop_oneof![3 => "[0-9]{1,12}", 1 => strings()];
    prop_oneof![
        8 => prop::collection::vec((ids, cursors()), 1..5).prop_map(Json::Object),
        1 => prop::collection::vec(values(), 0..2).prop_map(|states| obj(vec![("states", Json::Array(states))])),
        1 => values(),
    ]
}

/// A `STREAM` message, mostly well-formed, its fields in any order.
pub fn stream_messages() -> impl Strategy<Value = Json> {
    let names = prop_oneof![3 => Just("campaigns".to_owned()), 1 => strings()];
    let descriptor =
        (names, proptest::option::weighted(0.2, strings())).prop_map(|(name, namespace)| {
            let mut fields = vec![("name".to_owned(), Json::String(name))];
            fields.extend(namespace.map(|ns| ("namespace".to_owned(), Json::String(ns))));
            Json::Object(fields)
        });
    let state = prop_oneof![8 => stream_states().prop_map(Some), 1 => Just(Some(Json::Null)), 1 => Just(None)];
    let extra = proptest::option::weighted(
        0.2,
        (
            prop::sample::select(vec!["sourceStats", "type", "stream", "x"]),
            values(),
        ),
    );
    (descriptor, state, extra, any::<bool>(), any::<bool>()).prop_map(
        |(descriptor, state, extra, state_first, type_last)| {
            let mut stream = vec![("stream_descriptor".to_owned(), descriptor)];
            stream.extend(state.map(|s| ("stream_state".to_owned(), s)));
            if state_first {
                stream.reverse();
            }
            let mut message = vec![
                ("type".to_owned(), text("STREAM")),
                ("stream".to_owned(), Json::Object(stream)),
            ];
            if type_last {
                message.reverse();
            }
            message.extend(extra.map(|(k, v)| (k.to_owned(), v)));
            Json::Object(message)
        },
    )
}

/// Any state message: mostly `STREAM`, also `GLOBAL`, `LEGACY`, untyped, arrays of fields, any value.
pub fn messages() -> impl Strategy<Value = Json> {
    let entry = (strings(), stream_states()).prop_map(|(name, state)| {
        obj(vec![
            ("stream_descriptor", obj(vec![("name", Json::String(name))])),
            ("stream_state", state),
        ])
    });
    prop_oneof![
        12 => stream_messages(),
        1 => (values(), prop::collection::vec(entry, 0..2)).prop_map(|(shared, entries)| {
            obj(vec![("type", text("GLOBAL")), ("global", obj(vec![("shared_state", shared), ("stream_states", Json::Array(entries))]))])
        }),
        1 => (stream_states(), any::<bool>()).prop_map(|(data, typed)| {
            let data = ("data", obj(vec![("campaigns", data)]));
            obj(if typed { vec![("type", text("LEGACY")), data] } else { vec![data] })
        }),
        1 => (stream_states(), values()).prop_map(|(state, kind)| {
            Json::Array(vec![kind, Json::Array(vec![obj(vec![("name", text("campaigns"))]), state])])
        }),
        1 => values(),
    ]
}

pub fn states() -> impl Strategy<Value = Vec<Json>> {
    prop::collection::vec(messages(), 0..4)
}

/// Renders values as JSON text, choosing whitespace and escapes at random.
pub struct Render {
    rng: u64,
    /// Out of 8: how often whitespace goes where it may, and a character is escaped where it
    /// need not be.
    spaces: u64,
    escapes: u64,
    out: String,
}

impl Render {
    pub fn state(messages: &[Json], seed: u64, spaces: u64, escapes: u64) -> String {
        let mut r = Render {
            rng: seed,
            spaces,
            escapes,
            out: String::new(),
        };
        r.value(&Json::Array(messages.to_vec()));
        r.space();
        r.out
    }

    /// splitmix64
    fn next(&mut self, below: u64) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        (z ^ (z >> 31)) % below
    }

    fn space(&mut self) {
        if self.next(8) < self.spaces {
            let ws = [" ", "\n", "\t", "\r", "  \r\n\t "][self.next(5) as usize];
            self.out.push_str(ws);
        }
    }

    fn value(&mut self, v: &Json) {
        self.space();
        match v {
            Json::Null => self.out.push_str("null"),
            Json::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => self.out.push_str(n),
            Json::String(s) => self.string(s),
            Json::Array(items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.space();
                        self.out.push(',');
                    }
                    self.value(item);
                }
                self.space();
                self.out.push(']');
            }
            Json::Object(fields) => {
                self.out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        self.space();
                        self.out.push(',');
                    }
                    self.space();
                    self.string(k);
                    self.space();
                    self.out.push(':');
                    self.value(v);
                }
                self.space();
                self.out.push('}');
            }
        }
        self.space();
    }

    fn string(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            let escape = self.next(8) < self.escapes;
            match c {
                LONE_SURROGATE => {
                    let lone = [
                        r"\ud800",
                        r"\uDC00",
                        r"\ud800\u0041",
                        r"\ud800x",
                        r"\ud800\n",
                    ][self.next(5) as usize];
                    self.out.push_str(lone);
                }
                '"' | '\\' if !escape => self.out.extend(['\\', c]),
                '\n' if !escape => self.out.push_str(r"\n"),
                '\t' if !escape => self.out.push_str(r"\t"),
                '/' if escape && self.next(2) == 0 => self.out.push_str(r"\/"),
                c if escape || (c as u32) < 0x20 => {
                    let mut units = [0; 2];
                    for unit in c.encode_utf16(&mut units) {
                        let hex = if self.next(2) == 0 {
                            format!("\\u{unit:04X}")
                        } else {
                            format!("\\u{unit:04x}")
                        };
                        self.out.push_str(&hex);
                    }
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}

/// Breaks a text the ways a state can be broken: a character dropped, one put in, the end cut off.
pub fn mutate(text: &str, at: usize, how: u8) -> String {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let (head, tail) = text.split_at(at);
    let insert = [
        "", ",", "]", "}", "\"", "\\", ":", " ", "0", "-", "x", "\u{1}", "{", "[", "\\u",
    ];
    match how % 3 {
        0 => format!("{head}{}", tail.chars().skip(1).collect::<String>()),
        1 => format!(
            "{head}{}{tail}",
            insert[usize::from(how / 3) % insert.len()]
        ),
        _ => head.to_owned(),
    }
}

pub fn arguments() -> impl Strategy<Value = (&'static str, &'static str)> {
    (
        prop::sample::select(vec!["id", "a\"b\u{1}é"]),
        prop::sample::select(vec![
            "updated_time",
            "updated_time",
            "updated_time",
            "updated_time\u{0}",
            "",
        ]),
    )
}
