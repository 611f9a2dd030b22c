//! Small checks shared by `generate` (which refuses bad input) and `lint` (which reports it).

/// KubeRay appends up to 6 characters to a RayService name for its RayCluster, and the longest
/// Service suffix ("-serve-svc") must still fit a 63-character DNS label: 63 - 10 - 6 = 47.
pub const MAX_RAYSERVICE_NAME_LEN: usize = 47;

/// Why `name` is not a valid RayService name, if it is not.
pub fn rayservice_name_problem(name: &str) -> Option<String> {
    if name.len() > MAX_RAYSERVICE_NAME_LEN {
        return Some(format!(
            "must be at most {MAX_RAYSERVICE_NAME_LEN} characters (got {})",
            name.len()
        ));
    }
    dns1035_label_problem(name)
}

/// DNS-1035 label: lower-case letters, digits and '-', starting with a letter, ending with a
/// letter or digit, at most 63 characters.
pub fn dns1035_label_problem(name: &str) -> Option<String> {
    let allowed = "a DNS-1035 label: lower-case letters, digits and '-', starting with a letter and ending with a letter or digit";
    let bytes = name.as_bytes();
    let ok = !name.is_empty()
        && name.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    (!ok).then(|| format!("must be {allowed} (got {name:?})"))
}

/// DNS-1123 label (namespaces): lower-case letters, digits and '-', starting and ending with a
/// letter or digit, at most 63 characters.
pub fn dns1123_label_problem(name: &str) -> Option<String> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    (!ok).then(|| format!("must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (got {name:?})"))
}

/// DNS-1123 subdomain (names of Secrets, ConfigMaps, namespaces are stricter labels, but this is
/// what the API server checks for most object names).
pub fn dns1123_subdomain_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        });
    (!ok).then(|| {
        format!("must be a DNS-1123 name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit (got {name:?})")
    })
}

/// The NAME of an existing object a command reads or deletes: what the API server accepts as a
/// name, so that nothing else (`/`, `..`, `?`) reaches a request path.
pub fn object_name(field: &str, name: &str) -> crate::Result<()> {
    match dns1123_subdomain_problem(name) {
        Some(p) => Err(crate::Error::invalid(field, p)),
        None => Ok(()),
    }
}

/// `-n`, or the context's namespace: a DNS-1123 label, as the API server requires.
pub fn namespace(name: &str) -> crate::Result<()> {
    match dns1123_label_problem(name) {
        Some(p) => Err(crate::Error::invalid("namespace", p)),
        None => Ok(()),
    }
}

/// A Kubernetes resource quantity such as `500m`, `2`, `1.5`, `2Gi`, `512M`.
pub fn is_quantity(q: &str) -> bool {
    let number_end = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(number_end);
    let number_ok = !number.is_empty()
        && number != "."
        && number.matches('.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit());
    let suffix_ok = matches!(
        suffix,
        "" | "m" | "k" | "M" | "G" | "T" | "P" | "E" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei"
    );
    number_ok && suffix_ok
}

/// A Ray version as written in `rayVersion`: X.Y.Z with numbers.
pub fn is_ray_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageVersion {
    /// The tag names this Ray version (e.g. `2.52.0`, `2.52.0-py311-gpu`).
    Matches,
    /// The tag names another Ray version.
    Mismatch(String),
    /// No tag, a digest, or a tag that is not a Ray version: nothing to compare.
    Unknown,
}

/// Compares the tag of a container image with `rayVersion`.
pub fn image_version(image: &str, ray_version: &str) -> ImageVersion {
    if image.contains('@') {
        return ImageVersion::Unknown;
    }
    let last_segment = image.rsplit('/').next().unwrap_or(image);
    let Some((_, tag)) = last_segment.split_once(':') else {
        return ImageVersion::Unknown;
    };
    let tag_version = tag.split('-').next().unwrap_or(tag);
    if !is_ray_version(tag_version) {
        return ImageVersion::Unknown;
    }
    if tag_version == ray_version {
        ImageVersion::Matches
    } else {
        ImageVersion::Mismatch(tag_version.to_string())
    }
}

/// `HOST:PORT`, optionally behind `redis://` or `rediss://` (KubeRay passes the address to Ray,
/// which accepts both). Returns why not, if not.
pub fn redis_address_problem(addr: &str) -> Option<String> {
    let rest = addr
        .strip_prefix("redis://")
        .or_else(|| addr.strip_prefix("rediss://"))
        .unwrap_or(addr);
    let Some((host, port)) = rest.rsplit_once(':') else {
        return Some(format!("must be HOST:PORT (got {addr:?})"));
    };
    if host.is_empty() || host.contains('/') || host.contains(' ') {
        return Some(format!(
            "must be HOST:PORT with a host name or IP (got {addr:?})"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => None,
        _ => Some(format!(
            "port must be a number from 1 to 65535 (got {port:?})"
        )),
    }
}

/// A KubeRay version as given to `--kuberay-version`: `X.Y` or `X.Y.Z`, optional leading `v`.
pub fn parse_kuberay_version(v: &str) -> Option<(u32, u32)> {
    let v = v.strip_prefix('v').unwrap_or(v);
    // A pre-release or build suffix (`-rc.0`, `+abc`) does not change major.minor.
    let core = v.split(['-', '+']).next()?;
    let parts: Vec<&str> = core.split('.').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    for p in &parts {
        p.parse::<u32>().ok()?;
    }
    Some((parts[0].parse().ok()?, parts[1].parse().ok()?))
}

/// The first DNS label of a Redis address's host ("redis" of "redis://:pw@redis.ns.svc:6379"):
/// the Service name when the address names one.
pub fn redis_service_label(addr: &str) -> &str {
    let host = addr
        .trim_start_matches("rediss://")
        .trim_start_matches("redis://");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    host.split('.').next().unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(rayservice_name_problem("rayservice-ha").is_none());
        assert!(rayservice_name_problem("Ray").is_some());
        assert!(rayservice_name_problem("1abc").is_some());
        assert!(rayservice_name_problem("abc-").is_some());
        assert!(rayservice_name_problem(&"a".repeat(47)).is_none());
        assert!(rayservice_name_problem(&"a".repeat(48)).is_some());
        assert!(dns1123_subdomain_problem("redis-password.v1").is_none());
        assert!(dns1123_subdomain_problem("Redis").is_some());
    }

    #[test]
    fn quantities() {
        for q in ["1", "500m", "2Gi", "1.5", "0.5", "128Mi", "1e"] {
            assert_eq!(is_quantity(q), q != "1e", "{q}");
        }
        for q in ["", "Gi", "-1", "1.2.3", "2 Gi", "2gb"] {
            assert!(!is_quantity(q), "{q}");
        }
    }

    #[test]
    fn image_tags() {
        assert_eq!(
            image_version("rayproject/ray:2.52.0", "2.52.0"),
            ImageVersion::Matches
        );
        assert_eq!(
            image_version("rayproject/ray:2.52.0-py311-gpu", "2.52.0"),
            ImageVersion::Matches
        );
        assert_eq!(
            image_version("localhost:5000/ray:2.41.0", "2.52.0"),
            ImageVersion::Mismatch("2.41.0".into())
        );
        assert_eq!(
            image_version("localhost:5000/ray", "2.52.0"),
            ImageVersion::Unknown
        );
        assert_eq!(
            image_version("rayproject/ray:nightly", "2.52.0"),
            ImageVersion::Unknown
        );
    }

    #[test]
    fn redis_addresses() {
        assert!(redis_address_problem("redis:6379").is_none());
        assert!(redis_address_problem("rediss://redis.example:6380").is_none());
        assert!(redis_address_problem("redis").is_some());
        assert!(redis_address_problem(":6379").is_some());
        assert!(redis_address_problem("redis:0").is_some());
        assert!(redis_address_problem("redis:99999").is_some());
    }

    #[test]
    fn kuberay_versions() {
        assert_eq!(parse_kuberay_version("1.3"), Some((1, 3)));
        assert_eq!(parse_kuberay_version("v1.2.2"), Some((1, 2)));
        assert_eq!(parse_kuberay_version("1.7.0-rc.0"), Some((1, 7)));
        assert_eq!(parse_kuberay_version("one"), None);
        assert_eq!(parse_kuberay_version("1"), None);
    }
}
