//! The proxy's routing table, rebuilt whenever an instance changes: which host and
//! path go to which service port, and which instances are ready to take the request.
//!
//! Every service with a port gets `<service>.<domain>` (its first port) and
//! `<port>.<service>.<domain>` (each port); `x-wharf.proxy.routes` add hosts and path
//! prefixes. The domain is `x-wharf.domain`, else `<project>.localhost`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wharf_api::{Health, InstanceState, InstanceStatus};
use wharf_plan::ProjectSpec;

#[derive(Debug)]
pub struct Route {
    pub host: String,
    /// `/` for a whole host.
    pub path: String,
    pub project: String,
    pub service: String,
    /// The port inside the service.
    pub port: u16,
    /// Ready instances, as host addresses.
    pub backends: Vec<SocketAddr>,
    /// Instances that exist but are not ready (for the page shown when none is).
    pub waiting: usize,
    /// When the last of the ready instances started.
    pub ready_since_ms: Option<u64>,
    pub least_connections: bool,
    next: AtomicUsize,
}

impl Route {
    /// The backends in the order to try them, the others following as retries: in
    /// turn, or (least connections) by the requests `in_flight` gives each.
    pub fn pick(&self, in_flight: impl Fn(SocketAddr) -> usize) -> Vec<SocketAddr> {
        if self.backends.is_empty() {
            return Vec::new();
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % self.backends.len();
        let mut order: Vec<SocketAddr> = self.backends[start..]
            .iter()
            .chain(&self.backends[..start])
            .copied()
            .collect();
        if self.least_connections {
            // Stable: among equals, the turn order decides.
            order.sort_by_key(|backend| in_flight(*backend));
        }
        order
    }

    /// Whether an instance of the route became ready within `lately` before `now_ms`.
    pub fn ready_lately(&self, now_ms: u64, lately: std::time::Duration) -> bool {
        self.ready_since_ms
            .is_some_and(|since| u128::from(now_ms.saturating_sub(since)) < lately.as_millis())
    }
}

#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

/// What a lookup found.
pub enum Lookup<'a> {
    Found(&'a Route),
    /// The host belongs to a project, but no route matches the path.
    NoRoute {
        project: &'a str,
    },
    UnknownHost,
}

/// A project as the table is built from: its spec and its instances by service.
pub struct ProjectInstances<'a> {
    pub spec: &'a ProjectSpec,
    by_service: BTreeMap<&'a str, Vec<&'a InstanceStatus>>,
}

impl<'a> ProjectInstances<'a> {
    pub fn new(spec: &'a ProjectSpec, instances: impl Iterator<Item = &'a InstanceStatus>) -> Self {
        let mut by_service: BTreeMap<&str, Vec<&InstanceStatus>> = BTreeMap::new();
        for instance in instances {
            by_service
                .entry(instance.service.as_str())
                .or_default()
                .push(instance);
        }
        Self { spec, by_service }
    }
}

impl RouteTable {
    pub fn build(projects: &[ProjectInstances<'_>]) -> Self {
        let mut routes = Vec::new();
        for ProjectInstances { spec, by_service } in projects {
            let domain = if spec.domain.is_empty() {
                format!("{}.localhost", spec.name)
            } else {
                spec.domain.to_ascii_lowercase()
            };
            let route =
                |host: String, path: &str, service: &str, port: u16, least_connections: bool| {
                    let chosen = by_service.get(service).into_iter().flatten();
                    let ready_instances = chosen.clone().filter(|i| {
                        i.state == InstanceState::Running
                            && matches!(i.health, Health::None | Health::Healthy)
                    });
                    let ready_since_ms = ready_instances
                        .clone()
                        .filter_map(|i| i.started_at_ms)
                        .max();
                    let ready: Vec<SocketAddr> = ready_instances
                        .filter_map(|i| i.ports.iter().find(|p| p.target == port))
                        .map(|p| SocketAddr::from(([127, 0, 0, 1], p.published)))
                        .collect();
                    Route {
                        // Host names are told apart without case: a service `Web` is
                        // `web.<domain>`, as a browser asks for it.
                        host: host.to_ascii_lowercase(),
                        path: normalize_path(path),
                        project: spec.name.clone(),
                        service: service.to_owned(),
                        port,
                        // Stopped and exited ones are not coming: only those on their way.
                        waiting: chosen
                            .filter(|i| {
                                matches!(
                                    i.state,
                                    InstanceState::Waiting
                                        | InstanceState::Running
                                        | InstanceState::Restarting
                                        | InstanceState::CrashLoop
                                )
                            })
                            .count()
                            .saturating_sub(ready.len()),
                        backends: ready,
                        ready_since_ms,
                        least_connections,
                        next: AtomicUsize::new(0),
                    }
                };
            for (name, service) in &spec.services {
                // A database's port gets no HTTP route; the first HTTP one is the name's.
                let http = service
                    .ports
                    .iter()
                    .filter(|p| p.protocol.is_tcp() && !service.not_http.contains(&p.target));
                for (index, port) in http.enumerate() {
                    if index == 0 {
                        routes.push(route(
                            format!("{name}.{domain}"),
                            "/",
                            name,
                            port.target,
                            false,
                        ));
                    }
                    let host = format!("{}.{name}.{domain}", port.target);
                    routes.push(route(host, "/", name, port.target, false));
                }
            }
            for custom in &spec.routes {
                let Some(service) = spec.services.get(&custom.service) else {
                    continue;
                };
                let Some(port) = custom
                    .port
                    .or_else(|| service.ports.first().map(|p| p.target))
                else {
                    continue;
                };
                let host = custom
                    .host
                    .as_deref()
                    .map_or_else(|| domain.clone(), str::to_ascii_lowercase);
                let path = custom.path.as_deref().unwrap_or("/");
                routes.push(route(
                    host,
                    path,
                    &custom.service,
                    port,
                    custom.least_connections,
                ));
            }
            // The project's own domain: known, even with no route at its root.
            routes.push(Route {
                host: domain.clone(),
                path: String::new(),
                project: spec.name.clone(),
                service: String::new(),
                port: 0,
                backends: Vec::new(),
                waiting: 0,
                ready_since_ms: None,
                least_connections: false,
                next: AtomicUsize::new(0),
            });
        }
        // Longest path first, so the most specific prefix wins.
        routes.sort_by_key(|r| std::cmp::Reverse(r.path.len()));
        Self { routes }
    }

    /// The route for a request's host (without its port) and path.
    pub fn lookup(&self, host: &str, path: &str) -> Lookup<'_> {
        let host = host.to_ascii_lowercase();
        let mut project = None;
        for route in self.routes.iter().filter(|r| r.host == host) {
            if route.path.is_empty() {
                project = Some(route.project.as_str());
                continue;
            }
            if path_matches(&route.path, path) {
                return Lookup::Found(route);
            }
            project = Some(route.project.as_str());
        }
        match project {
            Some(project) => Lookup::NoRoute { project },
            None => Lookup::UnknownHost,
        }
    }

    /// Whether any route answers for `host`.
    pub fn knows(&self, host: &str) -> bool {
        self.routes
            .iter()
            .any(|r| r.host.eq_ignore_ascii_case(host))
    }

    /// Every route of `project` (all projects when `None`), for pages and `wharf urls`.
    pub fn routes_of<'a>(
        &'a self,
        project: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Route> + 'a {
        self.routes
            .iter()
            .filter(move |r| !r.service.is_empty() && project.is_none_or(|p| r.project == p))
    }
}

fn normalize_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

/// `/api` matches `/api`, `/api/x` and `/api?q`, not `/apix`.
fn path_matches(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
}

/// A shared, swappable table: readers take the current one, the rebuilder replaces it.
#[derive(Default)]
pub struct SharedTable(std::sync::RwLock<Arc<RouteTable>>);

impl SharedTable {
    pub fn current(&self) -> Arc<RouteTable> {
        Arc::clone(
            &self
                .0
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    pub fn replace(&self, table: RouteTable) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(table);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plan::{PortSpec, RouteSpec, ServiceSpec};

    fn instance(service: &str, replica: u32, published: u16, ready: bool) -> InstanceStatus {
        InstanceStatus {
            state: if ready {
                InstanceState::Running
            } else {
                InstanceState::Waiting
            },
            ports: vec![PortSpec {
                target: 8000,
                published,
                host: None,
                ..Default::default()
            }],
            ..InstanceStatus::new(
                service,
                replica,
                format!("shop-{service}-{replica}"),
                "process",
            )
        }
    }

    /// Project `shop` with these services, each listening on 8000.
    fn shop(services: &[&str]) -> ProjectSpec {
        let mut spec = ProjectSpec {
            name: "shop".into(),
            ..ProjectSpec::default()
        };
        for name in services {
            let port = PortSpec {
                target: 8000,
                published: 0,
                host: None,
                ..Default::default()
            };
            let service = ServiceSpec {
                ports: vec![port],
                ..ServiceSpec::default()
            };
            spec.services.insert((*name).into(), service);
        }
        spec
    }

    fn table() -> RouteTable {
        let mut spec = shop(&["web", "api"]);
        spec.routes.push(RouteSpec {
            path: Some("/api".into()),
            service: "api".into(),
            ..RouteSpec::default()
        });
        spec.routes.push(RouteSpec {
            path: Some("/".into()),
            service: "web".into(),
            ..RouteSpec::default()
        });
        let instances = [
            instance("web", 1, 18001, true),
            instance("web", 2, 18002, true),
            instance("web", 3, 18003, false),
            instance("api", 1, 18010, true),
        ];
        RouteTable::build(&[ProjectInstances::new(&spec, instances.iter())])
    }

    #[test]
    fn a_database_port_gets_no_http_route() {
        let mut spec = shop(&["db", "broker"]);
        let db = spec.services.get_mut("db").unwrap();
        db.ports = vec![PortSpec {
            target: 5432,
            published: 15432,
            host: None,
            ..Default::default()
        }];
        db.not_http = vec![5432];
        // RabbitMQ: AMQP is not HTTP, its management page is.
        let broker = spec.services.get_mut("broker").unwrap();
        broker.ports = [5672, 15672]
            .map(|target| PortSpec {
                target,
                published: 0,
                host: None,
                ..Default::default()
            })
            .to_vec();
        broker.not_http = vec![5672];
        let table = RouteTable::build(&[ProjectInstances::new(&spec, std::iter::empty())]);
        let hosts: Vec<&str> = table
            .routes_of(Some("shop"))
            .map(|r| r.host.as_str())
            .collect();
        assert!(!hosts.iter().any(|h| h.contains("db.")), "{hosts:?}");
        assert!(!hosts.iter().any(|h| h.starts_with("5672.")), "{hosts:?}");
        let Lookup::Found(broker) = table.lookup("broker.shop.localhost", "/") else {
            panic!("the broker's name leads to its HTTP port: {hosts:?}")
        };
        assert_eq!(broker.port, 15672);
    }

    #[test]
    fn hosts_and_path_prefixes_route_to_ready_instances() {
        let table = table();
        let Lookup::Found(web) = table.lookup("web.shop.localhost", "/x") else {
            panic!("web")
        };
        assert_eq!(web.backends.len(), 2, "the waiting replica gets nothing");
        assert_eq!(web.waiting, 1);
        let Lookup::Found(api) = table.lookup("SHOP.localhost", "/api/items?q=1") else {
            panic!("api")
        };
        assert_eq!(api.service, "api");
        let Lookup::Found(root) = table.lookup("shop.localhost", "/apix") else {
            panic!("root")
        };
        assert_eq!(root.service, "web");
        assert!(
            matches!(table.lookup("8000.api.shop.localhost", "/"), Lookup::Found(r) if r.service == "api")
        );
        assert!(matches!(
            table.lookup("nope.localhost", "/"),
            Lookup::UnknownHost
        ));
    }

    #[test]
    fn a_service_named_in_capitals_is_reached_whatever_the_case_asked() {
        let spec = shop(&["Web"]);
        let table = RouteTable::build(&[ProjectInstances::new(&spec, [].iter())]);
        for host in [
            "web.shop.localhost",
            "Web.shop.localhost",
            "8000.WEB.shop.localhost",
        ] {
            assert!(
                matches!(table.lookup(host, "/"), Lookup::Found(r) if r.service == "Web"),
                "{host}"
            );
        }
    }

    #[test]
    fn a_stopped_instance_is_not_counted_as_on_its_way() {
        let mut stopped = instance("web", 1, 18001, false);
        stopped.state = InstanceState::Stopped;
        let spec = shop(&["web"]);
        let table = RouteTable::build(&[ProjectInstances::new(&spec, [stopped].iter())]);
        let Lookup::Found(web) = table.lookup("web.shop.localhost", "/") else {
            panic!("web")
        };
        assert_eq!((web.backends.len(), web.waiting), (0, 0));
    }

    #[test]
    fn least_connections_prefers_the_idle_replica_and_stopping_ones_get_nothing() {
        let mut spec = shop(&["web"]);
        spec.routes.push(RouteSpec {
            path: Some("/".into()),
            service: "web".into(),
            least_connections: true,
            ..RouteSpec::default()
        });
        let mut stopping = instance("web", 3, 18003, true);
        stopping.state = InstanceState::Stopping;
        let instances = [
            instance("web", 1, 18001, true),
            instance("web", 2, 18002, true),
            stopping,
        ];
        let table = RouteTable::build(&[ProjectInstances::new(&spec, instances.iter())]);
        let Lookup::Found(route) = table.lookup("shop.localhost", "/") else {
            panic!()
        };
        assert_eq!(route.backends.len(), 2, "a stopping replica is drained");
        let busy = SocketAddr::from(([127, 0, 0, 1], 18001));
        for _ in 0..4 {
            let order = route.pick(|b| if b == busy { 5 } else { 0 });
            assert_ne!(order[0], busy);
        }
    }

    #[test]
    fn replicas_take_turns_and_the_others_follow_as_retries() {
        let table = table();
        let Lookup::Found(web) = table.lookup("web.shop.localhost", "/") else {
            panic!()
        };
        let first = web.pick(|_| 0);
        let second = web.pick(|_| 0);
        assert_eq!(first.len(), 2);
        assert_ne!(first[0], second[0]);
        assert_eq!(first[1], second[0]);
    }
}
