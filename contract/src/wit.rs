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
/// ```ignore
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
