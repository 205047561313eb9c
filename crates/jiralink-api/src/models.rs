//! Jira's wire models: what the sync, the access audit and the probe read, as serde types read
//! straight from the response bytes (no `serde_json::Value` tree). Ids are newtypes; the JSON a
//! caller keeps as text (an issue's `raw_json`, a project's, a comment's body) stays a `RawValue`.
//! A field Jira leaves out, sends as null or in an unexpected type reads as absent, never as an
//! error: the models say what the sync can use, Jira says the rest.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// The `Deserialize` of an id newtype over text: a JSON string, or a number read as its digits.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub String);

        impl $name {
            /// The id as Jira writes it.
            pub fn text(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok($name(lenient::id_text(d)?.unwrap_or_default()))
            }
        }
    };
}

/// The `Deserialize` of an id newtype over a number: a JSON number, or a string of digits.
macro_rules! number_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = lenient::id_text(d)?.unwrap_or_default();
                text.parse().map($name).map_err(|_| {
                    de::Error::custom(format!("{} is not a number: {text:?}", stringify!($name)))
                })
            }
        }
    };
}

text_id!(
    /// An issue's id (`"10001"`): digits in practice, text on the wire.
    IssueId
);
text_id!(
    /// A project's id.
    ProjectId
);
text_id!(
    /// A field's id (`summary`, `customfield_10016`).
    FieldId
);
text_id!(
    /// A status, issue type, priority or resolution id.
    MetaId
);
text_id!(
    /// A version's id.
    VersionId
);
text_id!(
    /// A component's id.
    ComponentId
);
text_id!(
    /// A comment's id.
    CommentId
);
text_id!(
    /// A worklog's id.
    WorklogId
);
text_id!(
    /// A change history's id.
    ChangeId
);
text_id!(
    /// An issue link's id.
    LinkId
);
number_id!(
    /// An Agile board's id.
    BoardId
);
number_id!(
    /// An Agile sprint's id.
    SprintId
);

impl IssueId {
    /// The id as the number it is in Jira (`None` for anything else).
    pub fn number(&self) -> Option<u64> {
        self.0.parse().ok()
    }
}

/// Readers that take what Jira sent when it has the expected type and read anything else as
/// absent, as reading a `Value` with `as_str()` did.
pub mod lenient {
    use super::*;

    struct Scalar;

    /// What a scalar reads as: text, a number, a flag, or nothing usable.
    pub(crate) enum Seen {
        Text(String),
        Int(i64),
        UInt(u64),
        Float(f64),
        Bool(bool),
        Nothing,
    }

    impl<'de> Visitor<'de> for Scalar {
        type Value = Seen;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Seen, E> {
            Ok(Seen::Text(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Seen, E> {
            Ok(Seen::Text(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seen, E> {
            Ok(Seen::Int(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seen, E> {
            Ok(Seen::UInt(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seen, E> {
            Ok(Seen::Float(v))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Seen, E> {
            Ok(Seen::Bool(v))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Seen, E> {
            Ok(Seen::Nothing)
        }
        fn visit_none<E: de::Error>(self) -> Result<Seen, E> {
            Ok(Seen::Nothing)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Seen, D::Error> {
            d.deserialize_any(Scalar)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Seen, A::Error> {
            while a.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Seen::Nothing)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Seen, A::Error> {
            while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Seen::Nothing)
        }
    }

    pub(crate) fn seen<'de, D: Deserializer<'de>>(d: D) -> Result<Seen, D::Error> {
        d.deserialize_any(Scalar)
    }

    /// A string; anything else is absent.
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match seen(d)? {
            Seen::Text(s) => Some(s),
            _ => None,
        })
    }

    /// A string, or empty when Jira sent none.
    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(string(d)?.unwrap_or_default())
    }

    /// A flag; anything else is absent.
    pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        Ok(match seen(d)? {
            Seen::Bool(b) => Some(b),
            _ => None,
        })
    }

    /// A whole number; anything else is absent.
    pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(match seen(d)? {
            Seen::Int(i) => Some(i),
            Seen::UInt(u) => i64::try_from(u).ok(),
            _ => None,
        })
    }

    /// A count (`total`, `startAt`); anything else is absent.
    pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Ok(match seen(d)? {
            Seen::UInt(u) => Some(u),
            Seen::Int(i) => u64::try_from(i).ok(),
            _ => None,
        })
    }

    /// Any number, as a float; anything else is absent.
    pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(match seen(d)? {
            Seen::Int(i) => Some(i as f64),
            Seen::UInt(u) => Some(u as f64),
            Seen::Float(f) => Some(f),
            _ => None,
        })
    }

    /// An id, as Jira writes it: a string, or a number as its digits.
    pub fn id_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match seen(d)? {
            Seen::Text(s) => Some(s),
            Seen::Int(i) => Some(i.to_string()),
            Seen::UInt(u) => Some(u.to_string()),
            _ => None,
        })
    }

    /// A list of objects read as `T`, an element that is no object left out; anything but a
    /// list is absent.
    pub fn objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Vec<T>>, D::Error> {
        struct Objects<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Objects<T> {
            type Value = Option<Vec<T>>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = a.next_element::<Shaped<T>>()? {
                    out.extend(item.object());
                }
                Ok(Some(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(None)
            }
        }
        d.deserialize_any(Objects(std::marker::PhantomData))
    }

    /// A list; a null or anything else is empty.
    pub fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }
}

/// `serverInfo`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServerInfo {
    #[serde(default, deserialize_with = "lenient::string")]
    pub deployment_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub base_url: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub server_title: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub version: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub build_number: Option<i64>,
}

impl ServerInfo {
    /// Jira Cloud (else Server or Data Center).
    pub fn is_cloud(&self) -> bool {
        self.deployment_type.as_deref() == Some("Cloud")
    }
}

/// `myself`: the account behind the credential, a user as any other (with its time zone).
pub type Myself = User;

/// An answer that should be an object, or what came instead: for telling a user what a site
/// answered when it is not what Jira sends (`myself` answering `[]`).
#[derive(Debug)]
#[non_exhaustive]
pub enum Shaped<T> {
    /// An object read as `T`, and how many members it had.
    Object(T, usize),
    /// An array of this many elements.
    Array(usize),
    Null,
    /// A string, number or flag.
    Scalar,
}

impl<T> Shaped<T> {
    /// The object, if the answer was one.
    pub fn object(self) -> Option<T> {
        match self {
            Shaped::Object(t, _) => Some(t),
            _ => None,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Shaped<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ShapeOf<T>(std::marker::PhantomData<T>);
        /// Counts the members `T` reads (a derived struct reads them all, unknown ones too).
        struct Counting<A> {
            map: A,
            members: usize,
        }
        impl<'de, A: MapAccess<'de>> MapAccess<'de> for Counting<A> {
            type Error = A::Error;
            fn next_key_seed<K: de::DeserializeSeed<'de>>(
                &mut self,
                seed: K,
            ) -> Result<Option<K::Value>, A::Error> {
                let key = self.map.next_key_seed(seed)?;
                self.members += usize::from(key.is_some());
                Ok(key)
            }
            fn next_value_seed<V: de::DeserializeSeed<'de>>(
                &mut self,
                seed: V,
            ) -> Result<V::Value, A::Error> {
                self.map.next_value_seed(seed)
            }
        }
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ShapeOf<T> {
            type Value = Shaped<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Shaped<T>, A::Error> {
                let mut counting = Counting { map, members: 0 };
                let t = T::deserialize(de::value::MapAccessDeserializer::new(&mut counting))?;
                Ok(Shaped::Object(t, counting.members))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Shaped<T>, A::Error> {
                let mut n = 0;
                while a.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Shaped::Array(n))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Shaped<T>, E> {
                Ok(Shaped::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Shaped<T>, E> {
                Ok(Shaped::Null)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shaped<T>, E> {
                Ok(Shaped::Scalar)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Shaped<T>, E> {
                Ok(Shaped::Scalar)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Shaped<T>, E> {
                Ok(Shaped::Scalar)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shaped<T>, E> {
                Ok(Shaped::Scalar)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Shaped<T>, E> {
                Ok(Shaped::Scalar)
            }
        }
        d.deserialize_any(ShapeOf(std::marker::PhantomData))
    }
}

/// Cloud's `permissions/project`: the projects in which the account holds the permissions asked.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct PermittedProjects {
    #[serde(default, deserialize_with = "lenient::list")]
    pub projects: Vec<ProjectRef>,
}

/// `mypermissions`: each permission asked for, and whether the account holds it (in the project
/// named, or without one anywhere).
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct MyPermissions {
    #[serde(default)]
    pub permissions: std::collections::BTreeMap<String, PermissionHeld>,
}

impl MyPermissions {
    /// Whether the account holds `key` (`ADMINISTER`, `CREATE_ISSUES`).
    pub fn holds(&self, key: &str) -> bool {
        self.permissions
            .get(key)
            .is_some_and(|p| p.have_permission == Some(true))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PermissionHeld {
    #[serde(default, deserialize_with = "lenient::bool")]
    pub have_permission: Option<bool>,
}

/// Cloud's `permissions/check`: the global permissions held, and per project permission the
/// projects it is held in.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PermissionGrants {
    #[serde(default, deserialize_with = "lenient::list")]
    pub global_permissions: Vec<String>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub project_permissions: Vec<ProjectPermissionGrant>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct ProjectPermissionGrant {
    #[serde(default, deserialize_with = "lenient::text")]
    pub permission: String,
    #[serde(default, deserialize_with = "lenient::list")]
    pub projects: Vec<ProjectId>,
}

/// Cloud's `/_edge/tenant_info`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TenantInfo {
    #[serde(default, deserialize_with = "lenient::string")]
    pub cloud_id: Option<String>,
}

/// Data Center's Application Links manifest (`/rest/applinks/1.0/manifest`): the server's id.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct AppLinksManifest {
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: Option<String>,
}

/// A user (a list entry, an author, an assignee): Cloud names it by `accountId`, Data Center by
/// `key`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct User {
    #[serde(default, deserialize_with = "lenient::string")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub key: Option<String>,
    /// Data Center's username.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub email_address: Option<String>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub active: Option<bool>,
    /// The account's time zone (`myself`; JQL reads dates in it).
    #[serde(default, deserialize_with = "lenient::string")]
    pub time_zone: Option<String>,
}

impl User {
    /// The id the store keys users by: the `accountId` (Cloud), else the `key` (Data Center).
    pub fn id(&self) -> Option<&str> {
        self.account_id.as_deref().or(self.key.as_deref())
    }

    /// Whether the answer names a user at all (`accountId`, `key` or `name`).
    pub fn is_named(&self) -> bool {
        self.account_id.is_some() || self.key.is_some() || self.name.is_some()
    }
}

/// A person an issue names (its assignee or reporter, an author, a component's lead), read for
/// the id the store keys users by and nothing else: an issue names some ten people, and their
/// names, addresses and time zones would be read for nothing (the issue's `raw_json` keeps them).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserRef {
    #[serde(default, deserialize_with = "lenient::string")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub key: Option<String>,
}

impl UserRef {
    /// The `accountId` (Cloud), else the `key` (Data Center).
    pub fn into_id(self) -> Option<String> {
        self.account_id.or(self.key)
    }
}

/// The id of an optional user (an unassigned issue has none).
pub fn user_id(user: &Option<UserRef>) -> Option<String> {
    let u = user.as_ref()?;
    u.account_id.as_ref().or(u.key.as_ref()).cloned()
}

/// A field of the `field` list.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Field {
    pub id: FieldId,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub custom: Option<bool>,
    #[serde(default)]
    pub schema: Option<FieldSchema>,
}

/// A field's schema: its type and, for a custom field, its plugin type
/// (`com.pyxis.greenhopper.jira:gh-sprint`).
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct FieldSchema {
    #[serde(default, rename = "type", deserialize_with = "lenient::string")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub custom: Option<String>,
}

/// An entry of the `status` list, or an issue's status.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Status {
    #[serde(default)]
    pub id: MetaId,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: String,
    #[serde(default)]
    pub status_category: Option<StatusCategory>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct StatusCategory {
    #[serde(default, deserialize_with = "lenient::string")]
    pub key: Option<String>,
}

/// An entry of the `issuetype`, `priority` or `resolution` lists, or an issue's.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Named {
    #[serde(default)]
    pub id: MetaId,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: String,
    /// Issue types: a sub-task type.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub subtask: Option<bool>,
}

/// A project of `project/search` or Data Center's `project` list, with its JSON as Jira sent it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Project {
    pub id: ProjectId,
    pub key: String,
    pub name: String,
    pub project_type_key: Option<String>,
    /// The project as Jira sent it (the store keeps it).
    pub raw: Box<RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectFields {
    #[serde(default)]
    id: ProjectId,
    #[serde(default, deserialize_with = "lenient::text")]
    key: String,
    #[serde(default, deserialize_with = "lenient::text")]
    name: String,
    #[serde(default, deserialize_with = "lenient::string")]
    project_type_key: Option<String>,
}

impl<'de> Deserialize<'de> for Project {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let p: ProjectFields = serde_json::from_str(raw.get()).map_err(de::Error::custom)?;
        if p.id.0.is_empty() || p.key.is_empty() {
            return Err(de::Error::custom("a project without its id or key"));
        }
        Ok(Project {
            id: p.id,
            key: p.key,
            name: p.name,
            project_type_key: p.project_type_key,
            raw,
        })
    }
}

/// `project/{key}`: the lists the sync keeps (versions and components).
#[derive(Debug, Default, Deserialize)]
#[non_exhaustive]
pub struct ProjectDetail {
    #[serde(default, deserialize_with = "lenient::list")]
    pub versions: Vec<Version>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Version {
    #[serde(default)]
    pub id: VersionId,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub released: Option<bool>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub archived: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub release_date: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Component {
    #[serde(default)]
    pub id: ComponentId,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: String,
    #[serde(default)]
    pub lead: Option<UserRef>,
}

/// An Agile board.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Board {
    pub id: BoardId,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: String,
    /// `scrum`, `kanban` or `simple`.
    #[serde(default, rename = "type", deserialize_with = "lenient::text")]
    pub kind: String,
    #[serde(default)]
    pub location: Option<BoardLocation>,
}

impl Board {
    /// The key of the project the board is located in, if any.
    pub fn project_key(&self) -> Option<&str> {
        self.location.as_ref()?.project_key.as_deref()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BoardLocation {
    #[serde(default, deserialize_with = "lenient::string")]
    pub project_key: Option<String>,
}

/// An Agile sprint.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Sprint {
    pub id: SprintId,
    #[serde(default)]
    pub origin_board_id: Option<BoardId>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient::text")]
    pub state: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub start_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub end_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub complete_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub goal: Option<String>,
}

/// An id-only issue of an id enumeration (`fields=id`).
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct IssueRef {
    pub id: IssueId,
}

/// An issue with its fields, and its JSON text as Jira sent it (the store keeps it as `raw_json`).
#[derive(Debug)]
#[non_exhaustive]
pub struct Issue {
    pub id: IssueId,
    pub key: String,
    pub fields: IssueFields,
    /// Embedded by Data Center's `expand=changelog`.
    pub changelog: Option<Changelog>,
    /// The issue's JSON text as Jira sent it.
    pub raw: String,
}

impl Issue {
    /// Takes the issue's JSON text out (moved, not copied), leaving an empty string.
    pub fn take_raw(&mut self) -> String {
        std::mem::take(&mut self.raw)
    }

    fn from_parts(parts: IssueParts, raw: String) -> Result<Issue, &'static str> {
        if parts.id.0.is_empty() {
            return Err("an issue without its id");
        }
        Ok(Issue {
            id: parts.id,
            key: parts.key,
            fields: parts.fields.unwrap_or_default(),
            changelog: parts.changelog,
            raw,
        })
    }
}

#[derive(Deserialize)]
struct IssueParts {
    id: IssueId,
    #[serde(default, deserialize_with = "lenient::text")]
    key: String,
    #[serde(default)]
    fields: Option<IssueFields>,
    #[serde(default)]
    changelog: Option<Changelog>,
}

/// Read through serde, an issue is scanned twice: once to cut its text out, then that text is
/// parsed. [`ListPage::issues_in_one_pass`] reads a whole page in one.
impl<'de> Deserialize<'de> for Issue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let parts: IssueParts = serde_json::from_str(raw.get()).map_err(de::Error::custom)?;
        Issue::from_parts(parts, String::from(Box::<str>::from(raw))).map_err(de::Error::custom)
    }
}

impl ListPage<Issue> {
    /// A page of issues read in one pass: each issue's fields are parsed where the issue stands
    /// in the page, and its text is the span that parse covered (serde's way scans each issue,
    /// some 18 KB, a second time to cut its text out). The page's other members are read as
    /// serde reads them. `None` for anything else than a page of that shape (an items member
    /// that is not a list, a member given twice, text that is not JSON): serde then reads it,
    /// and gives its own answer or error.
    pub fn issues_in_one_pass(body: &str) -> Option<Self> {
        let mut s = Scan { b: body, at: 0 };
        let mut page = ListPage::default();
        let mut seen = std::collections::HashSet::new();
        if !s.eat(b'{') {
            return None;
        }
        if !s.eat(b'}') {
            loop {
                let (key, _) = s.value::<String>()?;
                if !s.eat(b':') {
                    return None;
                }
                // The members serde's reading knows (each at most once), the items by any of
                // their names.
                let member = match key.as_str() {
                    "values" | "issues" | "comments" | "worklogs" | "issueChangeLogs"
                    | "issueTypes" | "fields" => "values",
                    "startAt" => "startAt",
                    "total" => "total",
                    "isLast" => "isLast",
                    "nextPageToken" => "nextPageToken",
                    "issueErrors" => "issueErrors",
                    _ => "",
                };
                if !member.is_empty() && !seen.insert(member) {
                    return None;
                }
                match member {
                    "values" => {
                        if !s.eat(b'[') {
                            return None;
                        }
                        if !s.eat(b']') {
                            loop {
                                let (parts, text) = s.value::<IssueParts>()?;
                                page.items
                                    .push(Issue::from_parts(parts, text.to_owned()).ok()?);
                                if s.eat(b']') {
                                    break;
                                }
                                if !s.eat(b',') {
                                    return None;
                                }
                            }
                        }
                    }
                    "startAt" => {
                        page.start_at = lenient::count(s.value::<serde_json::Value>()?.0).ok()?
                    }
                    "total" => {
                        page.total = lenient::count(s.value::<serde_json::Value>()?.0).ok()?
                    }
                    "isLast" => {
                        page.is_last = lenient::bool(s.value::<serde_json::Value>()?.0).ok()?
                    }
                    "nextPageToken" => {
                        page.next_page_token =
                            lenient::string(s.value::<serde_json::Value>()?.0).ok()?
                    }
                    "issueErrors" => page.issue_errors = s.value()?.0,
                    _ => drop(s.value::<IgnoredAny>()?),
                }
                if s.eat(b'}') {
                    break;
                }
                if !s.eat(b',') {
                    return None;
                }
            }
        }
        s.skip_space();
        (s.at == body.len()).then_some(page)
    }
}

/// A position in a JSON text, for reading a page's members one by one.
struct Scan<'b> {
    b: &'b str,
    at: usize,
}

impl<'b> Scan<'b> {
    fn skip_space(&mut self) {
        while matches!(
            self.b.as_bytes().get(self.at),
            Some(b' ' | b'\n' | b'\r' | b'\t')
        ) {
            self.at += 1;
        }
    }

    /// Whether `c` comes next (after white space), taking it if so.
    fn eat(&mut self, c: u8) -> bool {
        self.skip_space();
        let here = self.b.as_bytes().get(self.at) == Some(&c);
        self.at += usize::from(here);
        here
    }

    /// The value that comes next, read as `T`, and its text.
    fn value<T: de::DeserializeOwned>(&mut self) -> Option<(T, &'b str)> {
        self.skip_space();
        let start = self.at;
        let mut values = serde_json::Deserializer::from_str(self.b.get(start..)?).into_iter::<T>();
        let value = values.next()?.ok()?;
        self.at = start + values.byte_offset();
        Some((value, self.b.get(start..self.at)?))
    }
}

/// An issue's fields that the sync normalises; custom fields are kept as their JSON text, to be
/// read by the schema the field list gives them.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct IssueFields {
    pub project: Option<ProjectRef>,
    pub issuetype: Option<Named>,
    pub summary: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<Named>,
    pub assignee: Option<UserRef>,
    pub reporter: Option<UserRef>,
    pub created: Option<String>,
    pub updated: Option<String>,
    pub resolutiondate: Option<String>,
    pub parent: Option<LinkedIssue>,
    pub fix_versions: Vec<IdOnly>,
    pub versions: Vec<IdOnly>,
    pub components: Vec<IdOnly>,
    pub issuelinks: Vec<IssueLink>,
    /// The comments embedded (up to Jira's inline cap) and their total.
    pub comment: Option<CommentPage>,
    /// The worklogs embedded (up to Jira's inline cap) and their total.
    pub worklog: Option<WorklogPage>,
    /// `customfield_*` values, as Jira sent them; a null one is absent.
    pub custom: Vec<(FieldId, Box<RawValue>)>,
}

impl IssueFields {
    /// A custom field's value as Jira sent it (`None` when absent).
    pub fn custom(&self, id: &FieldId) -> Option<&RawValue> {
        self.custom.iter().find(|(k, _)| k == id).map(|(_, v)| &**v)
    }

    /// A custom field's value read as a number (story points): `None` when absent, null or not a
    /// number.
    pub fn custom_number(&self, id: &FieldId) -> Option<f64> {
        let raw = self.custom(id)?;
        let mut d = serde_json::Deserializer::from_str(raw.get());
        lenient::number(&mut d).ok().flatten()
    }
}

impl<'de> Deserialize<'de> for IssueFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = IssueFields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an issue's fields")
            }
            fn visit_unit<E: de::Error>(self) -> Result<IssueFields, E> {
                Ok(IssueFields::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<IssueFields, A::Error> {
                let mut f = IssueFields::default();
                let string = |m: &mut A| -> Result<Option<String>, A::Error> {
                    Ok(m.next_value::<Lenient<String>>()?.0)
                };
                while let Some(key) = m.next_key::<FieldKey>()? {
                    match key {
                        FieldKey::Project => f.project = m.next_value()?,
                        FieldKey::IssueType => f.issuetype = m.next_value()?,
                        FieldKey::Summary => f.summary = string(&mut m)?,
                        FieldKey::Status => f.status = m.next_value()?,
                        FieldKey::Priority => f.priority = m.next_value()?,
                        FieldKey::Assignee => f.assignee = m.next_value()?,
                        FieldKey::Reporter => f.reporter = m.next_value()?,
                        FieldKey::Created => f.created = string(&mut m)?,
                        FieldKey::Updated => f.updated = string(&mut m)?,
                        FieldKey::ResolutionDate => f.resolutiondate = string(&mut m)?,
                        FieldKey::Parent => f.parent = m.next_value()?,
                        FieldKey::FixVersions => f.fix_versions = m.next_value::<List<_>>()?.0,
                        FieldKey::Versions => f.versions = m.next_value::<List<_>>()?.0,
                        FieldKey::Components => f.components = m.next_value::<List<_>>()?.0,
                        FieldKey::IssueLinks => f.issuelinks = m.next_value::<List<_>>()?.0,
                        FieldKey::Comment => f.comment = m.next_value()?,
                        FieldKey::Worklog => f.worklog = m.next_value()?,
                        // A null custom field is kept as absent (a site sends every custom
                        // field it has, most of them null).
                        FieldKey::Custom(id) => {
                            let value = m.next_value::<&RawValue>()?;
                            if value.get() != "null" {
                                f.custom.push((FieldId(id.into_owned()), value.to_owned()));
                            }
                        }
                        FieldKey::Other => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(f)
            }
        }
        d.deserialize_any(Fields)
    }
}

/// The keys of an issue's `fields` object the models read; a custom field's id borrowed from the
/// JSON text where it can be.
enum FieldKey<'de> {
    Project,
    IssueType,
    Summary,
    Status,
    Priority,
    Assignee,
    Reporter,
    Created,
    Updated,
    ResolutionDate,
    Parent,
    FixVersions,
    Versions,
    Components,
    IssueLinks,
    Comment,
    Worklog,
    Custom(std::borrow::Cow<'de, str>),
    Other,
}

impl<'de> FieldKey<'de> {
    fn of(key: std::borrow::Cow<'de, str>) -> FieldKey<'de> {
        let named = match &*key {
            "project" => FieldKey::Project,
            "issuetype" => FieldKey::IssueType,
            "summary" => FieldKey::Summary,
            "status" => FieldKey::Status,
            "priority" => FieldKey::Priority,
            "assignee" => FieldKey::Assignee,
            "reporter" => FieldKey::Reporter,
            "created" => FieldKey::Created,
            "updated" => FieldKey::Updated,
            "resolutiondate" => FieldKey::ResolutionDate,
            "parent" => FieldKey::Parent,
            "fixVersions" => FieldKey::FixVersions,
            "versions" => FieldKey::Versions,
            "components" => FieldKey::Components,
            "issuelinks" => FieldKey::IssueLinks,
            "comment" => FieldKey::Comment,
            "worklog" => FieldKey::Worklog,
            _ => FieldKey::Other,
        };
        match named {
            FieldKey::Other if key.starts_with("customfield_") => FieldKey::Custom(key),
            named => named,
        }
    }
}

impl<'de> Deserialize<'de> for FieldKey<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(crate::adf::Str::deserialize(d)?
            .0
            .map_or(FieldKey::Other, FieldKey::of))
    }
}

/// A value read leniently (see [`lenient`]).
struct Lenient<T>(Option<T>);

impl<'de> Deserialize<'de> for Lenient<String> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient::string(d).map(Lenient)
    }
}

/// A list, empty when null.
struct List<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient::list(d).map(List)
    }
}

/// The project an issue is in.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct ProjectRef {
    #[serde(default)]
    pub id: ProjectId,
    #[serde(default, deserialize_with = "lenient::text")]
    pub key: String,
}

/// An issue named by another (a parent, a link's other end).
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct LinkedIssue {
    #[serde(default, deserialize_with = "lenient::id_text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub key: Option<String>,
}

/// An object named only by its id (an issue's versions, components).
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct IdOnly {
    #[serde(default, deserialize_with = "lenient::id_text")]
    pub id: Option<String>,
}

/// An issue link: the other issue is `outwardIssue` or `inwardIssue`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IssueLink {
    #[serde(default)]
    pub id: LinkId,
    #[serde(default, rename = "type")]
    pub link_type: Option<LinkType>,
    #[serde(default)]
    pub outward_issue: Option<LinkedIssue>,
    #[serde(default)]
    pub inward_issue: Option<LinkedIssue>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct LinkType {
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
}

/// An issue's changelog as Data Center embeds it (`expand=changelog`).
#[derive(Debug, Default, Deserialize)]
#[non_exhaustive]
pub struct Changelog {
    #[serde(default, deserialize_with = "lenient::count")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub histories: Vec<History>,
}

/// One change history: who changed what, when.
#[derive(Debug, Default, Deserialize)]
#[non_exhaustive]
pub struct History {
    #[serde(default)]
    pub id: ChangeId,
    #[serde(default)]
    pub author: Option<UserRef>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub created: Option<String>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub items: Vec<ChangeItem>,
}

/// One field's change within a history.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ChangeItem {
    #[serde(default, deserialize_with = "lenient::string")]
    pub field: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub field_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub from: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub from_string: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub to: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub to_string: Option<String>,
}

/// One issue's histories in a `changelog/bulkfetch` page.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IssueChangelog {
    pub issue_id: IssueId,
    #[serde(default, deserialize_with = "lenient::list")]
    pub change_histories: Vec<History>,
}

/// A comment; its body (ADF on v3, wiki text on v2) kept as Jira sent it.
#[derive(Debug, Deserialize)]
#[non_exhaustive]
pub struct Comment {
    #[serde(default)]
    pub id: CommentId,
    #[serde(default)]
    pub author: Option<UserRef>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub created: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub updated: Option<String>,
    #[serde(default = "null_raw")]
    pub body: Box<RawValue>,
}

fn null_raw() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).expect("null is JSON")
}

impl Comment {
    /// The body as plain text (ADF read as text, wiki text as it is).
    pub fn plain_text(&self) -> String {
        crate::adf::plain_text_of(&self.body)
    }
}

/// A worklog (embedded, per issue, or from `worklog/list`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Worklog {
    #[serde(default)]
    pub id: WorklogId,
    /// Given by `worklog/list`; the embedded and per-issue lists are the issue's already.
    #[serde(default, deserialize_with = "lenient::id_text")]
    pub issue_id: Option<String>,
    #[serde(default)]
    pub author: Option<UserRef>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub started: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub time_spent_seconds: Option<i64>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub updated: Option<String>,
}

/// An entry of the `worklog/updated` or `worklog/deleted` feed.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WorklogChange {
    #[serde(default, deserialize_with = "lenient::count")]
    pub worklog_id: Option<u64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub updated_time: Option<i64>,
}

/// A worklog feed page: `since`/`until` in Unix milliseconds, `lastPage`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WorklogFeedPage {
    #[serde(default, deserialize_with = "lenient::list")]
    pub values: Vec<WorklogChange>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub since: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub until: Option<i64>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub last_page: Option<bool>,
}

/// `search/approximate-count`.
#[derive(Debug, Default, Deserialize)]
#[non_exhaustive]
pub struct ApproximateCount {
    #[serde(default, deserialize_with = "lenient::count")]
    pub count: Option<u64>,
}

/// A page of a paged list, whichever way Jira pages it: its items (`values`, or `issues`,
/// `comments`, `worklogs`, `issueChangeLogs` by endpoint), startAt paging (`startAt`, `total`,
/// `isLast`), token paging (`nextPageToken`, `isLast`), and Cloud's bulk fetch `issueErrors`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListPage<T> {
    #[serde(
        rename = "values",
        alias = "issues",
        alias = "comments",
        alias = "worklogs",
        alias = "issueChangeLogs",
        alias = "issueTypes",
        alias = "fields",
        default = "Vec::new",
        deserialize_with = "lenient::list",
        bound(deserialize = "T: Deserialize<'de>")
    )]
    pub items: Vec<T>,
    #[serde(default, deserialize_with = "lenient::count")]
    pub start_at: Option<u64>,
    #[serde(default, deserialize_with = "lenient::count")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub is_last: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub next_page_token: Option<String>,
    /// Cloud's bulk fetch: ids it could not return, with a reason.
    #[serde(default)]
    pub issue_errors: Option<Vec<IgnoredAny>>,
}

impl<T> Default for ListPage<T> {
    fn default() -> Self {
        ListPage {
            items: Vec::new(),
            start_at: None,
            total: None,
            is_last: None,
            next_page_token: None,
            issue_errors: None,
        }
    }
}

impl<T> ListPage<T> {
    /// Jira has more than this page holds (an issue's embedded comments or worklogs).
    pub fn truncated(&self) -> bool {
        self.total.unwrap_or(0) as usize > self.items.len()
    }
}

/// Project search, boards, sprints.
pub type ValuesPage<T> = ListPage<T>;
/// Data Center's `search`, Cloud's `search/jql` and `issue/bulkfetch`.
pub type IssuePage<T> = ListPage<T>;
/// An issue's comments: embedded in its fields (up to the inline cap), or `issue/{id}/comment`.
pub type CommentPage = ListPage<Comment>;
/// An issue's worklogs: embedded in its fields (up to the inline cap), or `issue/{id}/worklog`.
pub type WorklogPage = ListPage<Worklog>;
/// Cloud's `changelog/bulkfetch`.
pub type ChangelogPage = ListPage<IssueChangelog>;

/// One entry of an issue's sprint field, in either form Jira writes it: an object (Cloud, and
/// Data Center's REST v2 since 8.x in some places) or the legacy `toString` of Server and Data
/// Center (`com.atlassian.greenhopper.service.sprint.Sprint@1b7c2ac4[id=2,...]`).
#[derive(Debug, Clone, PartialEq)]
pub enum SprintFieldEntry {
    /// An object, with its `id` when it has one that is a number (or a string of digits).
    Object(Option<String>),
    /// A string.
    Text(String),
    /// Anything else, as JSON text.
    Other(String),
}

impl SprintFieldEntry {
    /// The sprint's id: an object's, or the `id` attribute of a legacy string (`None` for a value
    /// that is neither, which callers report rather than misread).
    pub fn id(&self) -> Option<String> {
        match self {
            SprintFieldEntry::Object(id) => id.clone(),
            SprintFieldEntry::Text(text) => sprint_string_id(text),
            SprintFieldEntry::Other(_) => None,
        }
    }
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The `id` attribute of a legacy sprint string. Attributes are `key=value` separated by commas
/// inside the outer brackets; names and goals may hold commas or `=`, so the id is the value of
/// the first `id=` that starts an attribute and is all digits.
fn sprint_string_id(text: &str) -> Option<String> {
    let open = text.find('[')?;
    let body = text[open + 1..].strip_suffix(']')?;
    let head = &text[..open];
    if !head.contains(".sprint.Sprint@") {
        return None;
    }
    let attrs: Vec<&str> = body.split(',').collect();
    let id_at = |i: usize| {
        attrs[i]
            .strip_prefix("id=")
            .filter(|v| is_id(v))
            .map(str::to_owned)
    };
    // The id is followed by `rapidViewId` (8.x, 9.x) or `incompleteIssuesDestinationId` (10.x);
    // that neighbour tells it from an `id=` inside a goal.
    (0..attrs.len())
        .find(|&i| {
            id_at(i).is_some()
                && attrs.get(i + 1).is_some_and(|next| {
                    next.starts_with("rapidViewId=")
                        || next.starts_with("incompleteIssuesDestinationId=")
                })
        })
        .or_else(|| (0..attrs.len()).find(|&i| id_at(i).is_some()))
        .and_then(id_at)
}

/// The entries of a sprint field's value: none for null, one for a single value, each of a list.
pub fn sprint_field(raw: &RawValue) -> Vec<SprintFieldEntry> {
    #[derive(Deserialize)]
    struct WithId {
        #[serde(default, deserialize_with = "lenient::id_text")]
        id: Option<String>,
    }
    let entry = |raw: &RawValue| {
        let text = raw.get().trim_start();
        if text.starts_with('{') {
            let id = serde_json::from_str::<WithId>(raw.get())
                .ok()
                .and_then(|w| w.id)
                .filter(|id| is_id(id));
            SprintFieldEntry::Object(id)
        } else if text.starts_with('"') {
            match serde_json::from_str::<String>(raw.get()) {
                Ok(s) => SprintFieldEntry::Text(s),
                Err(_) => SprintFieldEntry::Other(raw.get().to_owned()),
            }
        } else {
            SprintFieldEntry::Other(raw.get().to_owned())
        }
    };
    if raw.get().trim() == "null" {
        return Vec::new();
    }
    if !raw.get().trim_start().starts_with('[') {
        return vec![entry(raw)];
    }
    match serde_json::from_str::<Vec<Box<RawValue>>>(raw.get()) {
        Ok(items) => items.iter().map(|i| entry(i)).collect(),
        Err(_) => vec![SprintFieldEntry::Other(raw.get().to_owned())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shaped_answer_says_what_came_instead_of_an_object() {
        let read = |t: &str| serde_json::from_str::<Shaped<Myself>>(t).expect(t);
        match read(r#"{"name":"ada","active":false,"extra":{"a":[1]}}"#) {
            Shaped::Object(me, 3) => {
                assert!(me.is_named());
                assert_eq!(me.active, Some(false));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(read("{}"), Shaped::Object(_, 0)));
        match read(r#"{"accountId":7,"displayName":"x"}"#) {
            Shaped::Object(me, 2) => assert!(!me.is_named(), "a number is not an accountId"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(read("[1,{}]"), Shaped::Array(2)));
        assert!(matches!(read("null"), Shaped::Null));
        assert!(matches!(read("\"x\""), Shaped::Scalar));
        assert!(serde_json::from_str::<Shaped<Myself>>(r#"{"name":"#).is_err());
    }

    #[test]
    fn write_back_answers_read_as_models() {
        use super::write::*;
        let page: ListPage<FieldMetaWire> = serde_json::from_str(
            r#"{"fields":[{"fieldId":"priority","name":"Priority","required":false,"schema":{"type":"priority"},"allowedValues":[{"id":"1","name":"High"},{"id":2,"name":"Low"}]}],"maxResults":50,"startAt":0,"total":1}"#,
        )
        .expect("Cloud's createmeta page");
        let allowed = page.items[0].allowed_values.clone().expect("allowed");
        assert_eq!(allowed[0].name.as_deref(), Some("High"));
        assert_eq!(allowed[1].id, None, "a number id is not read as text");
        let odd: FieldMetaWire =
            serde_json::from_str(r#"{"key":"x","allowedValues":["a",{"value":"b"},null]}"#)
                .expect("elements that are no object are left out");
        assert_eq!(odd.allowed_values.map(|a| a.len()), Some(1));
        let none: FieldMetaWire = serde_json::from_str(r#"{"key":"x","allowedValues":"all"}"#)
            .expect("a list that is not one is absent");
        assert!(none.allowed_values.is_none());
        let dc: ListPage<Named> = serde_json::from_str(
            r#"{"values":[{"id":"3","name":"Task","subtask":false}],"isLast":true}"#,
        )
        .expect("Data Center's createmeta page");
        assert_eq!(
            (dc.items[0].name.as_str(), dc.is_last),
            ("Task", Some(true))
        );
        let bulk: BulkCreated = serde_json::from_str(
            r#"{"issues":[{"id":"10001","key":"A-1","self":"x"}],"errors":[{"status":400,"elementErrors":{"errorMessages":[],"errors":{"summary":"You must specify a summary of the issue."}},"failedElementNumber":1}]}"#,
        )
        .expect("issue/bulk");
        assert_eq!(bulk.issues[0].id, IssueId("10001".into()));
        assert_eq!(
            bulk.errors[0].element_errors.errors["summary"],
            "You must specify a summary of the issue."
        );
        let issue: FieldedIssue = serde_json::from_str(
            r#"{"id":"10001","key":"A-1","fields":{"summary":"x","status":{"id":"3","name":"Done"},"issuelinks":[{"id":"9","type":{"name":"Blocks"},"outwardIssue":{"key":"A-2"}}],"assignee":null},"properties":{"jiralink.origin":{"external_id":"e1"}}}"#,
        )
        .expect("a search hit");
        assert_eq!(issue.status().map(|s| s.name).as_deref(), Some("Done"));
        assert_eq!(
            issue.links()[0]
                .outward_issue
                .as_ref()
                .and_then(|i| i.key.as_deref()),
            Some("A-2")
        );
        assert!(issue.field("assignee").is_none() && issue.field("summary").is_some());
        #[derive(Deserialize)]
        struct Origin {
            external_id: String,
        }
        assert_eq!(
            issue
                .property::<Origin>("jiralink.origin")
                .map(|o| o.external_id)
                .as_deref(),
            Some("e1")
        );
    }

    #[test]
    fn permission_answers_read_as_held_or_not() {
        let mine: MyPermissions = serde_json::from_str(
            r#"{"permissions":{"ADMINISTER":{"id":"0","key":"ADMINISTER","havePermission":true},"EDIT_ISSUES":{"havePermission":false},"BROWSE_PROJECTS":{"havePermission":"yes"}}}"#,
        )
        .expect("reads");
        assert!(mine.holds("ADMINISTER"));
        assert!(!mine.holds("EDIT_ISSUES") && !mine.holds("BROWSE_PROJECTS"));
        assert!(!mine.holds("CREATE_ISSUES"));
        let grants: PermissionGrants = serde_json::from_str(
            r#"{"globalPermissions":["ADMINISTER"],"projectPermissions":[{"permission":"EDIT_ISSUES","issues":[],"projects":[10000,"10001"]}]}"#,
        )
        .expect("reads");
        assert_eq!(grants.global_permissions, ["ADMINISTER"]);
        assert_eq!(
            grants.project_permissions[0].projects,
            [ProjectId("10000".into()), ProjectId("10001".into())]
        );
    }

    /// What a page of issues read says, to compare two readings of it.
    fn summary(p: &ListPage<Issue>) -> String {
        let items: Vec<String> = p
            .items
            .iter()
            .map(|i| {
                format!(
                    "{}|{}|{:?}|{:?}|{}|{}",
                    i.id,
                    i.key,
                    i.fields.summary,
                    i.fields.comment.as_ref().map(|c| c.items.len()),
                    i.changelog.as_ref().map_or(0, |c| c.histories.len()),
                    i.raw
                )
            })
            .collect();
        format!(
            "{:?} {:?} {:?} {:?} {:?} {items:?}",
            p.start_at,
            p.total,
            p.is_last,
            p.next_page_token,
            p.issue_errors.as_ref().map(Vec::len)
        )
    }

    #[test]
    fn a_page_of_issues_read_in_one_pass_reads_as_serde_reads_it() {
        let pages = [
            // Cloud's bulk fetch, compact.
            r#"{"expand":"schema","issues":[{"id":"1","key":"A-1","fields":{"summary":"a {brace} \"quote\" ]","comment":{"comments":[{"id":"5","body":"x"}],"total":1}}},{"id":"2","key":"A-2","fields":{}}],"issueErrors":[]}"#,
            // Data Center's search, spaced, with the changelog and a unicode escape.
            "{ \"startAt\" : 0 ,\n \"maxResults\": 2, \"total\": 7,\r\n \"issues\" : [ {\"id\": \"10\", \"key\": \"B-1\", \"fields\": {\"summary\": \"caf\\u00e9\"}, \"changelog\": {\"histories\": [{\"id\": \"9\", \"items\": []}], \"total\": 1}} ] }\n",
            // Token paging, the items last, an empty list.
            r#"{"nextPageToken":"t2","isLast":false,"issues":[]}"#,
            r#"{"isLast":true,"issues":[{"id":"3","key":"C-1","fields":null}]}"#,
            r#"{}"#,
        ];
        for text in pages {
            let serde: ListPage<Issue> = serde_json::from_str(text).expect("serde reads it");
            let one = ListPage::issues_in_one_pass(text).expect("one pass reads it");
            assert_eq!(summary(&one), summary(&serde), "{text}");
        }
        let one = ListPage::issues_in_one_pass(pages[0]).expect("reads");
        assert_eq!(
            one.items[1].raw, r#"{"id":"2","key":"A-2","fields":{}}"#,
            "an issue's text is its span of the page"
        );
        // Shapes it leaves to serde, which then answers as it always did.
        for odd in [
            r#"{"issues":null}"#,
            r#"{"issues":[],"values":[]}"#,
            r#"{"total":1,"total":2,"issues":[]}"#,
            r#"{"issues":[{"key":"no id"}]}"#,
            r#"{"issues":[]} trailing"#,
            r#"{"issues":[{"id":"1"},]}"#,
            r#"[]"#,
        ] {
            assert!(ListPage::issues_in_one_pass(odd).is_none(), "{odd}");
        }
        let null: ListPage<Issue> = serde_json::from_str(r#"{"issues":null}"#).expect("reads");
        assert!(null.items.is_empty());
    }

    #[test]
    fn an_issue_reads_its_fields_keeps_its_text_and_custom_fields_raw() {
        let text = r#"{"id":"10001","key":"A-1","fields":{"summary":"Hi","status":{"id":"3","name":"Done","statusCategory":{"key":"done"}},"assignee":null,"reporter":{"key":"ada"},"customfield_10016":5.5,"customfield_10020":[{"id":7}],"customfield_10030":null,"custom\u0066ield_10031":"escaped","labels":["x"],"fixVersions":[{"id":"20"}],"issuelinks":[{"id":"9","type":{"name":"Blocks"},"inwardIssue":{"id":"10002","key":"A-2"}}],"comment":{"comments":[{"id":"1","body":{"type":"doc","content":[]}}],"total":25},"worklog":null}}"#;
        let issue: Issue = serde_json::from_str(text).expect("the fixture reads");
        assert_eq!(issue.raw, text);
        assert_eq!(issue.id, IssueId("10001".into()));
        assert_eq!(issue.id.number(), Some(10001));
        let f = &issue.fields;
        assert_eq!(f.summary.as_deref(), Some("Hi"));
        assert_eq!(
            f.status
                .as_ref()
                .and_then(|s| s.status_category.as_ref()?.key.clone()),
            Some("done".to_owned())
        );
        assert!(f.assignee.is_none());
        assert_eq!(user_id(&f.reporter).as_deref(), Some("ada"));
        assert_eq!(
            f.custom_number(&FieldId("customfield_10016".into())),
            Some(5.5)
        );
        assert_eq!(f.custom_number(&FieldId("customfield_10020".into())), None);
        // A null custom field reads as absent; an escaped key reads as its text.
        assert!(f.custom(&FieldId("customfield_10030".into())).is_none());
        assert_eq!(
            f.custom(&FieldId("customfield_10031".into()))
                .map(RawValue::get),
            Some("\"escaped\"")
        );
        assert_eq!(f.custom.len(), 3);
        assert_eq!(
            sprint_field(
                f.custom(&FieldId("customfield_10020".into()))
                    .expect("the fixture reads")
            ),
            [SprintFieldEntry::Object(Some("7".into()))]
        );
        assert_eq!(f.fix_versions[0].id.as_deref(), Some("20"));
        assert_eq!(
            f.issuelinks[0]
                .inward_issue
                .as_ref()
                .expect("the fixture reads")
                .key
                .as_deref(),
            Some("A-2")
        );
        let comments = f.comment.as_ref().expect("the fixture reads");
        assert!(comments.truncated());
        assert_eq!(
            comments.items[0].body.get(),
            r#"{"type":"doc","content":[]}"#
        );
        assert!(f.worklog.is_none());
    }

    #[test]
    fn unexpected_types_read_as_absent_and_missing_ids_are_refused() {
        let p: Result<Project, _> = serde_json::from_str(r#"{"key":"A","name":"x"}"#);
        assert!(
            p.is_err(),
            "a project without an id is not upserted with id \"\""
        );
        let i: Result<Issue, _> = serde_json::from_str(r#"{"key":"A-1"}"#);
        assert!(i.is_err());
        let u: User = serde_json::from_str(r#"{"accountId":12,"key":"k","active":"yes"}"#)
            .expect("the fixture reads");
        assert_eq!(u.id(), Some("k"));
        assert_eq!(u.active, None);
        let b: Board =
            serde_json::from_str(r#"{"id":"12","type":"scrum"}"#).expect("the fixture reads");
        assert_eq!(b.id, BoardId(12));
        assert!(serde_json::from_str::<Board>(r#"{"id":"x"}"#).is_err());
    }

    #[test]
    fn sprint_fields_read_objects_strings_and_other_values() {
        let raw = |s: &str| RawValue::from_string(s.to_owned()).expect("the fixture reads");
        assert!(sprint_field(&raw("null")).is_empty());
        assert_eq!(
            sprint_field(&raw(r#"["a",{"name":"n"},{"id":"8"},12]"#)),
            [
                SprintFieldEntry::Text("a".into()),
                SprintFieldEntry::Object(None),
                SprintFieldEntry::Object(Some("8".into())),
                SprintFieldEntry::Other("12".into()),
            ]
        );
        assert_eq!(
            sprint_field(&raw(r#""s""#)),
            [SprintFieldEntry::Text("s".into())]
        );
    }
}

/// What write-back reads: the models of its answers (`write`).
pub mod write {
    use std::collections::BTreeMap;

    use serde::de::DeserializeOwned;
    use serde::Deserialize;
    use serde_json::{Map, Value};

    use super::{lenient, IssueId, IssueLink, Status, User};

    /// An issue as a search or a read with chosen fields returns it: its id and key, the fields
    /// asked for as Jira sent them (write-back compares them with its own values and echoes
    /// them), and the entity properties asked for.
    #[derive(Debug, Clone, Deserialize)]
    #[non_exhaustive]
    pub struct FieldedIssue {
        pub id: IssueId,
        #[serde(default, deserialize_with = "lenient::string")]
        pub key: Option<String>,
        #[serde(default)]
        pub fields: Map<String, Value>,
        #[serde(default)]
        pub properties: Map<String, Value>,
    }

    impl FieldedIssue {
        /// A field's value as Jira sent it (`None`: not sent or null).
        pub fn field(&self, id: &str) -> Option<&Value> {
            self.fields.get(id).filter(|v| !v.is_null())
        }

        /// A field read as a model (`None`: absent, or not of that shape).
        fn field_as<T: DeserializeOwned>(&self, id: &str) -> Option<T> {
            T::deserialize(self.field(id)?).ok()
        }

        /// The issue's status (when `status` was asked for).
        pub fn status(&self) -> Option<Status> {
            self.field_as("status")
        }

        /// The issue's links (when `issuelinks` was asked for).
        pub fn links(&self) -> Vec<IssueLink> {
            self.field_as("issuelinks").unwrap_or_default()
        }

        /// An entity property asked for, read as `T`.
        pub fn property<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
            T::deserialize(self.properties.get(key)?).ok()
        }
    }

    /// A comment or worklog as its list gives it, with what reconciliation needs.
    #[derive(Debug, Clone, Deserialize)]
    #[non_exhaustive]
    pub struct Authored {
        #[serde(default, deserialize_with = "lenient::id_text")]
        pub id: Option<String>,
        #[serde(default)]
        pub author: Option<User>,
        #[serde(default, deserialize_with = "lenient::string")]
        pub created: Option<String>,
    }

    /// An entity property (`{"key", "value"}`): the value is the writer's JSON.
    #[derive(Debug, Clone, Deserialize)]
    #[non_exhaustive]
    pub struct PropertyAnswer {
        #[serde(default)]
        pub value: Value,
    }

    /// `issue/bulk`'s answer: what was created, in request order, and what was refused.
    #[derive(Debug, Clone, Default, Deserialize)]
    #[non_exhaustive]
    pub struct BulkCreated {
        #[serde(default, deserialize_with = "lenient::list")]
        pub issues: Vec<CreatedIssue>,
        #[serde(default, deserialize_with = "lenient::list")]
        pub errors: Vec<BulkError>,
    }

    /// `CreatedIssue`.
    #[derive(Debug, Clone, Deserialize)]
    #[non_exhaustive]
    pub struct CreatedIssue {
        pub id: IssueId,
        #[serde(deserialize_with = "lenient::text")]
        pub key: String,
    }

    /// One element a bulk create refused, with Jira's error body for it.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[non_exhaustive]
    pub struct BulkError {
        pub failed_element_number: usize,
        #[serde(default)]
        pub status: u16,
        #[serde(default)]
        pub element_errors: crate::diagnosis::JiraErrors,
    }

    /// `issue/{id}/transitions` (with `expand=transitions.fields`).
    #[derive(Debug, Clone, Default, Deserialize)]
    #[non_exhaustive]
    pub struct Transitions {
        #[serde(default, deserialize_with = "lenient::list")]
        pub transitions: Vec<TransitionWire>,
    }

    #[derive(Debug, Clone, Deserialize)]
    #[non_exhaustive]
    pub struct TransitionWire {
        #[serde(default, deserialize_with = "lenient::id_text")]
        pub id: Option<String>,
        #[serde(default, deserialize_with = "lenient::text")]
        pub name: String,
        #[serde(default)]
        pub to: Option<TransitionTarget>,
        /// The transition screen's fields, by id (sorted, as Jira's JSON object is read).
        #[serde(default)]
        pub fields: BTreeMap<String, FieldMetaWire>,
    }

    #[derive(Debug, Clone, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[non_exhaustive]
    pub struct TransitionTarget {
        #[serde(default, deserialize_with = "lenient::id_text")]
        pub id: Option<String>,
        #[serde(default, deserialize_with = "lenient::string")]
        pub name: Option<String>,
        #[serde(default)]
        pub status_category: Option<super::StatusCategory>,
    }

    /// A field of a create, edit or transition screen as Jira sends it.
    #[derive(Debug, Clone, Default, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[non_exhaustive]
    pub struct FieldMetaWire {
        /// Create metadata names the field here; edit metadata and screens by their key.
        #[serde(default, deserialize_with = "lenient::string")]
        pub field_id: Option<String>,
        #[serde(default, deserialize_with = "lenient::string")]
        pub key: Option<String>,
        #[serde(default, deserialize_with = "lenient::string")]
        pub name: Option<String>,
        #[serde(default, deserialize_with = "lenient::bool")]
        pub required: Option<bool>,
        #[serde(default, deserialize_with = "lenient::bool")]
        pub has_default_value: Option<bool>,
        #[serde(default)]
        pub schema: Option<MetaSchema>,
        /// The values Jira allows (options, priorities, versions, ...).
        #[serde(default, deserialize_with = "lenient::objects")]
        pub allowed_values: Option<Vec<AllowedValue>>,
    }

    /// A value a field allows, by the names Jira gives it: an option's `value`, a priority's,
    /// version's or component's `name`, and its `id`.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
    #[non_exhaustive]
    pub struct AllowedValue {
        #[serde(default, deserialize_with = "lenient::string")]
        pub id: Option<String>,
        #[serde(default, deserialize_with = "lenient::string")]
        pub name: Option<String>,
        #[serde(default, deserialize_with = "lenient::string")]
        pub value: Option<String>,
    }

    #[derive(Debug, Clone, Default, Deserialize)]
    #[non_exhaustive]
    pub struct MetaSchema {
        #[serde(default, rename = "type", deserialize_with = "lenient::string")]
        pub kind: Option<String>,
        #[serde(default, deserialize_with = "lenient::string")]
        pub items: Option<String>,
        #[serde(default, deserialize_with = "lenient::string")]
        pub custom: Option<String>,
    }

    /// `issue/{id}/editmeta`: the editable fields by id.
    #[derive(Debug, Clone, Default, Deserialize)]
    #[non_exhaustive]
    pub struct EditMeta {
        #[serde(default)]
        pub fields: BTreeMap<String, FieldMetaWire>,
    }
}
