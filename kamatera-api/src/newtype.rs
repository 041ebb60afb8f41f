//! One implementation of the text access every string newtype of the crate needs.

/// Implements `as_str`, `Display`, `AsRef<str>` and `FromStr` for a `struct Name(String)`.
///
/// - `string_newtype!(Name, "what")`: any text is valid; `FromStr` wraps it with
///   `Name::new` and cannot fail, and `Borrow<str>` lets maps keyed by `Name` be
///   searched by text.
/// - `string_newtype!(Name, "what", validated)`: `FromStr` runs the validating
///   `Name::new`, which returns `Result<Name, Error>`.
///
/// `what` names the value in the generated docs ("The tag as text.").
macro_rules! string_newtype {
    ($name:ident, $what:literal) => {
        $crate::newtype::string_newtype!(@common $name, $what);

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::new(s))
            }
        }

        // Equality and hashing are the inner string's, so a map keyed by the newtype
        // can be searched with a `&str` (say a row of a compact server list).
        impl ::std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
    ($name:ident, $what:literal, validated) => {
        $crate::newtype::string_newtype!(@common $name, $what);

        impl ::std::str::FromStr for $name {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
    };
    (@common $name:ident, $what:literal) => {
        impl $name {
            #[doc = concat!("The ", $what, " as text.")]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

pub(crate) use string_newtype;

#[cfg(test)]
mod tests {
    use crate::{CommandId, ServerId, ServerName, Tag};

    #[test]
    fn every_string_newtype_round_trips_through_text() {
        let id: ServerId = "4f1e2d3c-uuid".parse().unwrap();
        assert_eq!(
            (id.as_str(), id.to_string().as_str()),
            ("4f1e2d3c-uuid", "4f1e2d3c-uuid")
        );
        let command: CommandId = "123456".parse().unwrap();
        assert_eq!(command.as_ref(), "123456");
        assert_eq!(command, CommandId::new("123456"));
        let name: ServerName = "k8s-ng1-3fa9c0d1e2b".parse().unwrap();
        assert_eq!(name.to_string(), "k8s-ng1-3fa9c0d1e2b");
        let tag: Tag = "k8sca-mycluster".parse().unwrap();
        assert_eq!(tag.as_str(), "k8sca-mycluster");
    }

    #[test]
    fn validated_newtypes_refuse_bad_text_when_parsed() {
        let error = "has space".parse::<ServerName>().unwrap_err();
        assert!(error.to_string().contains("not allowed"), "{error}");
        assert!("ab".parse::<Tag>().is_err());
    }
}
