//! The conversions between this crate's types and a contract version's generated ones.

/// Writes the conversions, in both directions, between this crate's [`Manifest`](crate::Manifest),
/// [`DeadlineAction`](crate::DeadlineAction), [`Precondition`](crate::Precondition),
/// [`StreamDescriptor`](crate::StreamDescriptor), [`MigrationError`](crate::MigrationError)
/// and [`LogLevel`](crate::LogLevel) and the types bindings generated for one
/// `cutover:migration` version (wasmtime's `bindgen!` in the host, wit-bindgen's
/// `generate!` in the SDK).
///
/// `types` names the module of the version's `types` interface and `log` that of its `host`
/// interface (where `level` is), both in scope where the macro is invoked. These records are
/// the same in every contract version so far; [`Action`](crate::Action) is not (1.2.0 added
/// `full-sync`), so each side converts it itself.
///
/// ```text
/// use bindings::cutover::migration::host as wit_log;
/// use bindings::cutover::migration::types as wit;
/// cutover_contract::wit_conversions!(types: wit, log: wit_log);
/// ```
#[macro_export]
macro_rules! wit_conversions {
    (types: $wit:ident, log: $log:ident) => {
        $crate::__both_ways!(record $wit::Manifest, $crate::Manifest {
            fields: connector, applies_to, produces, message, upgrade_deadline,
                documentation_url, scoped_streams, guide;
            optional: deadline_action;
            lists: preconditions;
        });
        $crate::__both_ways!(record $wit::Precondition, $crate::Precondition {
            fields: subject, requirement; optional: ; lists: ;
        });
        $crate::__both_ways!(record $wit::StreamDescriptor, $crate::StreamDescriptor {
            fields: name, namespace; optional: ; lists: ;
        });
        $crate::__both_ways!(enum $wit::DeadlineAction, $crate::DeadlineAction {
            Disable, AutoUpgrade
        });
        $crate::__both_ways!(enum $wit::MigrationError, $crate::MigrationError {
            InvalidInput(message), UnsupportedShape(message), NeedsOperator(message)
        });
        $crate::__both_ways!(enum $log::Level, $crate::LogLevel {
            Trace, Debug, Info, Warn, Error
        });
    };
}

/// [`wit_conversions!`]'s conversion of one record or enum, in both directions: records
/// field by field (`optional` fields and `lists` convert what they hold), enums case by case.
#[doc(hidden)]
#[macro_export]
macro_rules! __both_ways {
    (record $a:ty, $b:ty { $($rest:tt)* }) => {
        $crate::__both_ways!(@record $a => $b { $($rest)* });
        $crate::__both_ways!(@record $b => $a { $($rest)* });
    };
    (enum $a:ty, $b:ty { $($rest:tt)* }) => {
        $crate::__both_ways!(@enum $a => $b { $($rest)* });
        $crate::__both_ways!(@enum $b => $a { $($rest)* });
    };
    (@record $from:ty => $to:ty {
        fields: $($field:ident),*;
        optional: $($optional:ident),*;
        lists: $($list:ident),*;
    }) => {
        impl ::core::convert::From<$from> for $to {
            fn from(r: $from) -> Self {
                Self {
                    $($field: r.$field,)*
                    $($optional: r.$optional.map(::core::convert::Into::into),)*
                    $($list: r.$list.into_iter().map(::core::convert::Into::into).collect(),)*
                }
            }
        }
    };
    (@enum $from:ty => $to:ty { $($case:ident $(($value:ident))?),* }) => {
        impl ::core::convert::From<$from> for $to {
            fn from(e: $from) -> Self {
                type Source = $from;
                match e {
                    $(Source::$case $(($value))? => Self::$case $(($value))?,)*
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    //! The macro against types shaped as bindings generate them for `types` and `host`.

    mod wit {
        #[derive(Clone, Debug, PartialEq)]
        pub struct Manifest {
            pub connector: String,
            pub applies_to: String,
            pub produces: String,
            pub message: String,
            pub upgrade_deadline: Option<String>,
            pub deadline_action: Option<DeadlineAction>,
            pub documentation_url: String,
            pub scoped_streams: Vec<String>,
            pub preconditions: Vec<Precondition>,
            pub guide: String,
        }
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum DeadlineAction {
            Disable,
            AutoUpgrade,
        }
        #[derive(Clone, Debug, PartialEq)]
        pub struct Precondition {
            pub subject: String,
            pub requirement: String,
        }
        #[derive(Clone, Debug, PartialEq)]
        pub struct StreamDescriptor {
            pub name: String,
            pub namespace: Option<String>,
        }
        #[derive(Clone, Debug, PartialEq)]
        pub enum MigrationError {
            InvalidInput(String),
            UnsupportedShape(String),
            NeedsOperator(String),
        }
    }

    mod wit_log {
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum Level {
            Trace,
            Debug,
            Info,
            Warn,
            Error,
        }
    }

    crate::wit_conversions!(types: wit, log: wit_log);

    fn round_trip<T, W>(value: T) -> T
    where
        T: Clone + Into<W>,
        W: Into<T>,
    {
        let generated: W = value.into();
        generated.into()
    }

    #[test]
    fn every_record_converts_both_ways_unchanged() {
        let manifest = crate::Manifest {
            connector: "airbyte/source-example".into(),
            applies_to: ">=1.0.0, <2.0.0".into(),
            produces: "2.0.0".into(),
            message: "m".into(),
            upgrade_deadline: Some("2025-01-31".into()),
            deadline_action: Some(crate::DeadlineAction::AutoUpgrade),
            documentation_url: "https://example.com".into(),
            scoped_streams: vec!["users".into()],
            preconditions: vec![crate::Precondition::new("platform", ">=0.50.0")],
            guide: "g".into(),
        };
        assert_eq!(round_trip::<_, wit::Manifest>(manifest.clone()), manifest);
        let stream = crate::StreamDescriptor {
            name: "users".into(),
            namespace: Some("ns".into()),
        };
        assert_eq!(
            round_trip::<_, wit::StreamDescriptor>(stream.clone()),
            stream
        );
        for error in [
            crate::MigrationError::InvalidInput("a".into()),
            crate::MigrationError::UnsupportedShape("b".into()),
            crate::MigrationError::NeedsOperator("c".into()),
        ] {
            assert_eq!(round_trip::<_, wit::MigrationError>(error.clone()), error);
        }
        use crate::LogLevel::*;
        for level in [Trace, Debug, Info, Warn, Error] {
            assert_eq!(round_trip::<_, wit_log::Level>(level), level);
        }
        assert_eq!(
            wit_log::Level::from(Warn),
            wit_log::Level::Warn,
            "each level keeps its name"
        );
    }
}
