//! Parsers for Compose's short syntaxes: `"127.0.0.1:8080-8081:80-81/udp"` ports and
//! `"./src:/app:ro"` volumes. Pure string logic, so each rule is unit-tested here.

/// One port entry of the long syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub host_ip: String,
    pub target: u32,
    pub published: String,
    pub protocol: String,
}

pub fn parse_port(spec: &str) -> Result<Vec<PortSpec>, String> {
    let invalid = || {
        format!("invalid port {spec:?}: expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]")
    };
    // As Docker splits it: the protocol after the first `/` (none, or an empty one, is
    // tcp), then the container port after the last `:`, the host port before it, and
    // the host address is all that comes before those (`::1:8080:80`, `[::1]:8080:80`).
    let (rest, protocol) = match spec.split_once('/') {
        None => (spec, "tcp".to_owned()),
        Some((rest, "")) => (rest, "tcp".to_owned()),
        Some((rest, proto))
            if ["tcp", "udp", "sctp"].contains(&proto.to_ascii_lowercase().as_str()) =>
        {
            (rest, proto.to_ascii_lowercase())
        }
        Some((_, proto)) => {
            return Err(format!(
                "invalid port {spec:?}: unknown protocol {proto:?} (tcp, udp or sctp)"
            ));
        }
    };
    let (host, container) = rest.rsplit_once(':').unwrap_or(("", rest));
    let (host_ip, published) = match host.rsplit_once(':') {
        Some((ip, published)) => (ip.trim_matches(['[', ']']).to_owned(), published),
        None => (String::new(), host),
    };
    if !host_ip.is_empty() && host_ip.parse::<std::net::IpAddr>().is_err() {
        let hint = if rest.contains('[') || host_ip.contains(':') {
            " (an IPv6 address takes both ports after it: [::1]:8080:80)"
        } else {
            ""
        };
        return Err(format!(
            "invalid port {spec:?}: invalid IP address {host_ip:?}{hint}"
        ));
    }
    let range = |text: &str| {
        parse_range(text).ok_or_else(|| match out_of_range(text) {
            Some(port) => format!("invalid port {spec:?}: {port} is out of range (1-65535)"),
            None => invalid(),
        })
    };
    let (target_start, target_end) = range(container)?;
    if target_start == 0 {
        return Err(format!("invalid port {spec:?}: missing a target port"));
    }
    let published_range = if published.is_empty() {
        None
    } else {
        Some(range(published)?)
    };
    let count = target_end - target_start + 1;
    let mut specs = Vec::with_capacity(count as usize);
    for offset in 0..count {
        let published = match published_range {
            None => String::new(),
            Some((start, end)) if end - start + 1 == count => (start + offset).to_string(),
            Some((start, end)) if count == 1 && start != end => format!("{start}-{end}"),
            Some((start, end)) if start == end && count == 1 => start.to_string(),
            Some(_) => {
                return Err(format!(
                    "invalid port {spec:?}: host and container port ranges differ in size"
                ));
            }
        };
        specs.push(PortSpec {
            host_ip: host_ip.clone(),
            target: target_start + offset,
            published,
            protocol: protocol.clone(),
        });
    }
    // Compose orders the expansion by "port/protocol" as text.
    specs.sort_by_key(|p| format!("{}/{}", p.target, p.protocol));
    Ok(specs)
}

/// A number in `text` (a port or a range) too large to be a port.
fn out_of_range(text: &str) -> Option<u64> {
    text.split('-')
        .filter_map(|part| part.parse::<u64>().ok())
        .find(|port| *port > 65_535)
}

fn parse_range(text: &str) -> Option<(u32, u32)> {
    let port = |s: &str| s.parse::<u32>().ok().filter(|p| *p <= 65535);
    match text.split_once('-') {
        Some((start, end)) => {
            let (start, end) = (port(start)?, port(end)?);
            (start <= end).then_some((start, end))
        }
        None => port(text).map(|p| (p, p)),
    }
}

/// One volume entry of the long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolumeSpec {
    pub kind: &'static str,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    pub selinux: String,
    pub propagation: String,
    pub nocopy: bool,
    /// A spec of one or two bytes (`ab`), which Compose writes with no volume section.
    pub bare: bool,
}

const PROPAGATIONS: [&str; 6] = [
    "shared", "rshared", "slave", "rslave", "private", "rprivate",
];

/// A short volume's fields, split at each colon as Compose splits them: not inside a
/// `${…}` (a variable left as written, `${DATA:-./data}`, is one field), nor after a
/// field's lone first letter, a Windows drive (`C:\data`, `d:/projects`).
fn volume_fields(spec: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    let mut chars = spec.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '$' if chars.peek().is_some_and(|(_, next)| *next == '{') => {
                chars.next();
                depth += 1;
            }
            '}' if depth > 0 => depth -= 1,
            ':' if depth == 0 && !is_drive(&spec[start..at]) => {
                fields.push(&spec[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    fields.push(&spec[start..]);
    fields
}

/// One letter, as a Windows drive is named before its colon.
fn is_drive(text: &str) -> bool {
    let mut chars = text.chars();
    matches!((chars.next(), chars.next()), (Some(letter), None) if letter.is_alphabetic())
}

pub fn parse_volume(spec: &str) -> Result<VolumeSpec, String> {
    if spec.is_empty() {
        return Err("invalid empty volume spec".to_owned());
    }
    // One or two bytes are an anonymous volume's target, taken whole, as Compose
    // takes them (with no volume section).
    if spec.len() <= 2 {
        return Ok(VolumeSpec {
            kind: "volume",
            target: spec.to_owned(),
            bare: true,
            ..VolumeSpec::default()
        });
    }
    let fields = volume_fields(spec);
    if fields.iter().any(|f| f.is_empty()) {
        return Err(format!(
            "invalid volume {spec:?}: empty section between colons"
        ));
    }
    let (source, target, mode) = match fields.as_slice() {
        [target] => ("", *target, ""),
        [source, target] => (*source, *target, ""),
        [source, target, mode] => (*source, *target, *mode),
        _ => return Err(format!("invalid volume {spec:?}: too many colons")),
    };
    let kind = if is_path(source) { "bind" } else { "volume" };
    let mut volume = VolumeSpec {
        kind,
        source: source.to_owned(),
        target: target.to_owned(),
        ..VolumeSpec::default()
    };
    for option in mode.split(',') {
        match option {
            "ro" => volume.read_only = true,
            "rw" => volume.read_only = false,
            "z" | "Z" => option.clone_into(&mut volume.selinux),
            "nocopy" => volume.nocopy = true,
            p if PROPAGATIONS.contains(&p) => p.clone_into(&mut volume.propagation),
            // Consistency (`cached`, `delegated`) and anything else: ignored, as by
            // Compose.
            _ => {}
        }
    }
    Ok(volume)
}

/// A volume source is a host path when it looks like one, as Compose tells: relative,
/// absolute or home-based, a Windows drive or named pipe; otherwise it names a volume.
fn is_path(source: &str) -> bool {
    source.starts_with(['.', '/', '~'])
        || source.starts_with("\\\\")
        || source
            .split_once(':')
            .is_some_and(|(drive, _)| is_drive(drive))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(host_ip: &str, target: u32, published: &str, protocol: &str) -> PortSpec {
        PortSpec {
            host_ip: host_ip.into(),
            target,
            published: published.into(),
            protocol: protocol.into(),
        }
    }

    #[test]
    fn ports_in_every_short_form() {
        assert_eq!(parse_port("80").unwrap(), [port("", 80, "", "tcp")]);
        assert_eq!(
            parse_port("8080:80").unwrap(),
            [port("", 80, "8080", "tcp")]
        );
        assert_eq!(
            parse_port("127.0.0.1:8080:80/udp").unwrap(),
            [port("127.0.0.1", 80, "8080", "udp")]
        );
        assert_eq!(
            parse_port("127.0.0.1::80").unwrap(),
            [port("127.0.0.1", 80, "", "tcp")]
        );
        assert_eq!(
            parse_port("[::1]:8080:80").unwrap(),
            [port("::1", 80, "8080", "tcp")]
        );
        assert_eq!(
            parse_port("9000-9001:9000-9001").unwrap(),
            [port("", 9000, "9000", "tcp"), port("", 9001, "9001", "tcp")]
        );
        assert_eq!(
            parse_port("8000-8010:80").unwrap(),
            [port("", 80, "8000-8010", "tcp")]
        );
    }

    #[test]
    fn bad_ports_are_rejected() {
        for bad in [
            "",
            "abc",
            "1:2:3:4",
            "70000",
            "9000-9002:80-81",
            "0",
            "[::1]:80",
            "80/tcp/x",
        ] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports_split_as_docker_splits_them() {
        // The address is all before the host port, bracketed or not; an empty protocol
        // is tcp.
        assert_eq!(
            parse_port("::1:8080:80").unwrap(),
            [port("::1", 80, "8080", "tcp")]
        );
        assert_eq!(parse_port("80/").unwrap(), [port("", 80, "", "tcp")]);
        assert_eq!(parse_port(":80:80").unwrap(), [port("", 80, "80", "tcp")]);
    }

    #[test]
    fn volumes_pick_bind_or_named() {
        let v = parse_volume("./data:/data:ro").unwrap();
        assert_eq!(
            (v.kind, v.source.as_str(), v.read_only),
            ("bind", "./data", true)
        );
        let v = parse_volume("db:/var/lib/db:nocopy").unwrap();
        assert_eq!((v.kind, v.nocopy), ("volume", true));
        let v = parse_volume("/tmp").unwrap();
        assert_eq!(
            (v.kind, v.source.as_str(), v.target.as_str()),
            ("volume", "", "/tmp")
        );
        assert!(parse_volume("./a:/b:ro:x").is_err());
        // Modes Compose does not know are ignored, as it ignores them.
        assert!(parse_volume("./a:/b:bogus,ro").unwrap().read_only);
        // A lone letter before a colon is a Windows drive, in any field.
        let v = parse_volume("C:\\data:/data").unwrap();
        assert_eq!((v.kind, v.source.as_str()), ("bind", "C:\\data"));
        let v = parse_volume("v:/w:nocopy").unwrap();
        assert_eq!((v.source.as_str(), v.target.as_str()), ("v:/w", "nocopy"));
        assert!(parse_volume(":/b").is_err());
        assert!(parse_volume("./a:/b:").is_err());
        assert!(parse_volume("ab").unwrap().bare);
    }
}
