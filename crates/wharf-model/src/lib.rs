//! The normalized project model: what a Compose file means once loaded.
//!
//! Types serialize in the same field order and with the same value forms as
//! `docker compose config`, so printing a [`Project`] is printing the normalized file.
//! No IO here: the loader (`wharf-manifest`) builds these; everything else reads them.

mod blkio;
mod build;
mod deploy;
mod develop;
mod device_request;
mod duration;
mod extensions;
mod file_object;
pub mod go_number;
mod healthcheck;
mod hook;
mod hosts;
mod model;
mod network;
mod port;
mod project;
mod service;
mod skip;
mod small_map;
mod unit_bytes;
mod volume;
mod volume_mount;
pub mod x_wharf;

pub use blkio::{BlkioConfig, ThrottleDevice, WeightDevice};
pub use build::Build;
pub use deploy::{Deploy, Placement, Resource, Resources, RestartPolicy, UpdateConfig};
pub use develop::{Develop, WatchRule};
pub use device_request::DeviceRequest;
pub use duration::Duration;
pub use extensions::{EXTENSIONS_KEY, Extensions};
pub use file_object::{FileMode, FileObject, FileReference};
pub use healthcheck::Healthcheck;
pub use hook::ServiceHook;
pub use hosts::HostsList;
pub use model::{Model, ServiceModel};
pub use network::{Ipam, IpamPool, Network, ServiceNetwork};
pub use port::{Port, RAW_PORT_KEY};
pub use project::Project;
pub use service::{
    Cpus, CredentialSpec, DependsOn, DeviceMapping, EnvFile, Extends, Logging, Provider, Service,
    ShellCommand, Ulimit,
};
pub use small_map::SmallMap;
pub use unit_bytes::UnitBytes;
pub use volume::Volume;
pub use volume_mount::{BindOptions, TmpfsOptions, VolumeMount, VolumeOptions};
