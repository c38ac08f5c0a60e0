//! Statuses and kinds stored as text: [`text_enum!`] declares an enum whose values are the
//! snake_case spellings a `varchar` column holds (its `CHECK` lists the same), serialised
//! the same way in JSON, described to OpenAPI by the same type, and bound to and read from
//! SQL as text (a spelling the enum does not know is a decode error, never a silent default).

/// A value that is none of an enum's spellings, naming the ones it knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of {known}")]
pub struct UnknownValue {
    pub known: String,
}

/// Declares a text-stored enum: `Debug`, `Clone`, `Copy`, `Eq`, `Hash`, serde and `ToSchema`
/// (snake_case, which each given spelling must be: `spellings_match_serde` checks it), `ALL`,
/// `as_str`, `parse`, `Display`, `FromStr` and the sqlx text encoding (compatible with `text`
/// and `varchar` columns).
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
            utoipa::ToSchema,
        )]
        #[serde(rename_all = "snake_case")]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The spelling stored in the column and used in JSON.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The value spelled `text`, if any.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// Every spelling, comma-separated (for messages naming the allowed values).
            pub fn spellings() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Compares with a spelling (`action == "provision"`), as the column holds it.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::db::text_enum::UnknownValue;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text).ok_or_else(|| $crate::db::text_enum::UnknownValue {
                    known: Self::spellings(),
                })
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl<'q> sqlx::Encode<'q, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<'r, sqlx::Postgres>>::decode(value)?;
                Self::parse(text).ok_or_else(|| {
                    format!("{:?} is no {}", text, stringify!($name)).into()
                })
            }
        }
    };
}

pub(crate) use text_enum;

/// A status change a state machine refused, or the database failing to make one.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    /// The machine's table has no such move: a bug in the caller, never the user's input.
    #[error("{machine} cannot move from {from} to {to}")]
    NotAllowed {
        machine: &'static str,
        from: &'static str,
        to: &'static str,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<TransitionError> for crate::error::AppError {
    fn from(err: TransitionError) -> Self {
        match err {
            TransitionError::Database(err) => Self::Database(err),
            refused => Self::Internal(anyhow::Error::new(refused)),
        }
    }
}

/// Whether every value of a [`text_enum!`] serialises to its stored spelling (the macro spells
/// JSON and OpenAPI with serde's snake_case, the column with the given text). Each machine's
/// tests call it.
#[cfg(test)]
pub fn spellings_match_serde<T: serde::Serialize + std::fmt::Display>(all: &[T]) -> bool {
    all.iter()
        .all(|v| serde_json::to_value(v).ok() == Some(serde_json::Value::String(v.to_string())))
}
