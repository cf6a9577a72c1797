//! One service of a project, with every field Compose defines, in Compose's order.

use std::collections::BTreeMap;
use std::fmt;

use crate::hosts::HostsList;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::skip::{is_blank, is_false, is_zero};
use crate::x_wharf::ServiceSettings;
use crate::{
    BlkioConfig, Build, Deploy, Develop, DeviceRequest, Duration, Extensions, FileReference,
    Healthcheck, Port, ServiceHook, ServiceModel, ServiceNetwork, SmallMap, UnitBytes, VolumeMount,
};

/// A command in exec form. `None` keeps the image's default; `Some([])` clears it.
pub type ShellCommand = Option<Vec<String>>;

/// One service as Compose defines it. Sections most services leave unset are boxed:
/// a project keeps its services in map nodes of eleven, so on a project of thousands
/// every byte of this struct counts several times over.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Service {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach: Option<bool>,
    /// Boxed, as `deploy` is: a service is kept inline in maps of thousands, and most
    /// have neither.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Box<Build>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub develop: Option<Box<Develop>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blkio_config: Option<Box<BlkioConfig>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cgroup_parent: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cgroup: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub cpu_count: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub cpu_percent: Cpus,
    #[serde(skip_serializing_if = "is_zero")]
    pub cpu_period: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub cpu_quota: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub cpu_rt_period: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub cpu_rt_runtime: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub cpus: Cpus,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cpuset: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub cpu_shares: i64,
    /// Always present in JSON output (as `null` when unset), like Compose.
    pub command: ShellCommand,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileReference>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub container_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_spec: Option<Box<CredentialSpec>>,
    #[serde(skip_serializing_if = "SmallMap::is_empty")]
    pub depends_on: SmallMap<String, DependsOn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Box<Deploy>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_cgroup_rules: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceMapping>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_opt: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domainname: String,
    /// Always present in JSON output (as `null` when unset), like Compose.
    pub entrypoint: ShellCommand,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<Box<Provider>>,
    #[serde(skip_serializing_if = "SmallMap::is_empty")]
    pub environment: SmallMap<String, Option<String>>,
    /// Read into `environment` (and then emptied) by the loader, unless it was asked to
    /// keep the files unread, as Compose does for `config --hash`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_file: Vec<EnvFile>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<String>,
    #[serde(skip_serializing)]
    pub extends: Option<Box<Extends>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_links: Vec<String>,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "crate::hosts::serialize_as_list"
    )]
    pub extra_hosts: HostsList,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<DeviceRequest>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Box<Healthcheck>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ipc: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub isolation: String,
    #[serde(skip_serializing_if = "SmallMap::is_empty")]
    pub labels: SmallMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub label_file: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Box<Logging>>,
    #[serde(skip_serializing_if = "is_zero")]
    pub mem_limit: UnitBytes,
    #[serde(skip_serializing_if = "is_zero")]
    pub mem_reservation: UnitBytes,
    #[serde(skip_serializing_if = "is_zero")]
    pub memswap_limit: UnitBytes,
    #[serde(skip_serializing_if = "is_zero")]
    pub mem_swappiness: UnitBytes,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, Option<ServiceModel>>,
    /// Set but empty (a variable left unset), the service joins no network of the
    /// project, as in Compose; unset, it joins `default`.
    #[serde(skip_serializing_if = "is_blank")]
    pub network_mode: Option<String>,
    #[serde(skip_serializing_if = "SmallMap::is_empty")]
    pub networks: SmallMap<String, Option<Box<ServiceNetwork>>>,
    #[serde(skip_serializing_if = "is_false")]
    pub oom_kill_disable: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub oom_score_adj: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pid: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub pids_limit: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub platform: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pull_policy: String,
    /// Accepted, as Compose accepts it (its schema has it), and left out of the
    /// project as Compose leaves it out: `pull_policy: refresh` is pulled every time.
    #[serde(skip_serializing)]
    pub pull_refresh_after: String,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub restart: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub runtime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileReference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub shm_size: UnitBytes,
    #[serde(skip_serializing_if = "is_false")]
    pub stdin_open: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<Duration>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub storage_opt: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub tty: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    #[serde(skip_serializing_if = "is_false")]
    pub use_api_socket: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub userns_mode: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uts: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeMount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<ServiceHook>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<ServiceHook>,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
    /// The typed `x-wharf` section (also kept verbatim in `extensions`).
    #[serde(skip)]
    pub wharf: ServiceSettings,
}

impl Service {
    /// The network mode: another service's or container's namespace, `host`, `none`;
    /// empty for the project's networks.
    #[must_use]
    pub fn network_mode(&self) -> &str {
        self.network_mode.as_deref().unwrap_or_default()
    }

    /// How many replicas `up` starts: `scale`, else `deploy.replicas`, else one.
    #[must_use]
    pub fn replicas(&self) -> i64 {
        self.scale
            .or_else(|| self.deploy.as_ref().and_then(|d| d.replicas))
            .unwrap_or(1)
    }
}

/// CPU counts print with float32 precision, as Compose stores them.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct Cpus(pub f32);

impl Serialize for Cpus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Going through the shortest f32 text keeps 0.1 from printing as 0.10000000149;
        // a whole number prints without a fraction, as Go prints a float64.
        let shortest: f64 = self.0.to_string().parse().unwrap_or_default();
        if shortest.fract() == 0.0 && shortest.abs() < 1e15 {
            #[allow(clippy::cast_possible_truncation)] // whole and in range: checked above
            return serializer.serialize_i64(shortest as i64);
        }
        serializer.serialize_f64(shortest)
    }
}

impl<'de> Deserialize<'de> for Cpus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CpusVisitor;
        impl Visitor<'_> for CpusVisitor {
            type Value = Cpus;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of CPUs such as 0.5")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Cpus, E> {
                crate::go_number::parse_float(v)
                    .map(|cpus| Cpus(cpus as f32))
                    .ok_or_else(|| E::custom(format!("invalid number of CPUs {v:?}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Cpus, E> {
                Ok(Cpus(v as f32))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cpus, E> {
                Ok(Cpus(v as f32))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cpus, E> {
                Ok(Cpus(v as f32))
            }
        }
        deserializer.deserialize_any(CpusVisitor)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DependsOn {
    pub condition: String,
    #[serde(skip_serializing_if = "is_false")]
    pub restart: bool,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
    pub required: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct EnvFile {
    pub path: String,
    pub required: bool,
    pub format: String,
}

/// As Compose writes it: a plain path when required (the default, whatever the format),
/// else the long form.
impl Serialize for EnvFile {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if self.required {
            return serializer.serialize_str(&self.path);
        }
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("path", &self.path)?;
        if !self.format.is_empty() {
            map.serialize_entry("format", &self.format)?;
        }
        map.serialize_entry("required", &self.required)?;
        map.end()
    }
}

/// A service that a provider plugin makes (a cloud database, a model runner): no image,
/// no build, only the plugin's type and its options.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Provider {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, Vec<String>>,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Extends {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub file: String,
    pub service: String,
}

/// A Windows container's managed service account, named one of three ways.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CredentialSpec {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub config: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub registry: String,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Logging {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceMapping {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub permissions: String,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
}

/// A ulimit: one value for both soft and hard, or the two separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ulimit {
    Single(i64),
    Range { soft: i64, hard: i64 },
}

impl Serialize for Ulimit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // As Compose writes it: a zero limit is left out, and a single zero is `{}`.
        #[derive(Serialize)]
        struct Range {
            #[serde(skip_serializing_if = "is_zero")]
            soft: i64,
            #[serde(skip_serializing_if = "is_zero")]
            hard: i64,
        }
        match *self {
            Self::Single(value) if value != 0 => serializer.serialize_i64(value),
            Self::Single(_) => Range { soft: 0, hard: 0 }.serialize(serializer),
            Self::Range { soft, hard } => Range { soft, hard }.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Ulimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Range {
            soft: i64,
            hard: i64,
        }
        struct UlimitVisitor;
        impl<'de> Visitor<'de> for UlimitVisitor {
            type Value = Ulimit;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or a mapping with soft and hard")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ulimit, E> {
                Ok(Ulimit::Single(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ulimit, E> {
                i64::try_from(v)
                    .map(Ulimit::Single)
                    .map_err(|_| E::custom("ulimit too large"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ulimit, E> {
                v.parse()
                    .map(Ulimit::Single)
                    .map_err(|_| E::custom(format!("invalid ulimit {v:?}")))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Ulimit, A::Error> {
                let range = Range::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Ulimit::Range {
                    soft: range.soft,
                    hard: range.hard,
                })
            }
        }
        deserializer.deserialize_any(UlimitVisitor)
    }
}
