//! Key material for `generate --redis-tls`: a CA of the bundle's own and a server certificate
//! for its Redis Service, made fresh for each bundle. The CA's key signs once and is dropped:
//! nothing can sign another certificate for this Redis later, and a new bundle (or a deleted
//! Secret) gets a new CA.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};

use crate::error::{Error, Result};

/// How long the certificates are valid. Redis reads its certificate at start only, and a
/// certificate that expires breaks the GCS's next connection: long, and said in the README.
pub const VALID_YEARS: i32 = 5;

/// PEM texts for the TLS Secret: `ca.crt`, `tls.crt`, `tls.key`.
pub struct RedisCertificates {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// A CA and a server certificate for `names` (the Redis Service's DNS names), ECDSA P-256,
/// valid from yesterday (clock skew) for VALID_YEARS years.
pub fn redis_certificates(names: &[String], unix_now: u64) -> Result<RedisCertificates> {
    let failed =
        |e: rcgen::Error| Error::failed(format!("cannot make the Redis certificates: {e}"));
    let (y, m, d) = civil_date(unix_now.saturating_sub(86_400));
    let (from, until) = (
        date_time_ymd(y, m, d),
        date_time_ymd(y + VALID_YEARS, m, d.min(28)),
    );

    let ca_key = KeyPair::generate().map_err(failed)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca.distinguished_name
        .push(DnType::CommonName, "kubectl-rayha Redis CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (ca.not_before, ca.not_after) = (from, until);
    let ca_cert = ca.self_signed(&ca_key).map_err(failed)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(failed)?;
    let mut server = CertificateParams::new(names.to_vec()).map_err(failed)?;
    server.distinguished_name.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    (server.not_before, server.not_after) = (from, until);
    let cert = server.signed_by(&key, &issuer).map_err(failed)?;
    Ok(RedisCertificates {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The DNS names a pod may use for Service `service`: short, and qualified when the namespace
/// is known.
pub fn service_names(service: &str, namespace: Option<&str>) -> Vec<String> {
    let mut names = vec![service.to_string()];
    if let Some(ns) = namespace {
        names.extend([
            format!("{service}.{ns}"),
            format!("{service}.{ns}.svc"),
            format!("{service}.{ns}.svc.cluster.local"),
        ]);
    }
    names
}

/// (year, month, day) of a unix time, in UTC (days-from-civil inverted).
fn civil_date(unix: u64) -> (i32, u8, u8) {
    let z = (unix / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_of_known_days() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(951_782_400), (2000, 2, 29));
        assert_eq!(civil_date(1_796_083_199), (2026, 11, 30));
        assert_eq!(civil_date(1_796_083_200), (2026, 12, 1));
    }

    #[test]
    fn a_fresh_ca_and_server_certificate_per_call() {
        let names = service_names("shop-redis", Some("prod"));
        assert_eq!(names[3], "shop-redis.prod.svc.cluster.local");
        let a = redis_certificates(&names, 1_796_083_200).unwrap();
        let b = redis_certificates(&names, 1_796_083_200).unwrap();
        assert!(a.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(a.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(a.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_ne!(a.ca_pem, b.ca_pem);
        assert_ne!(a.key_pem, b.key_pem);
    }
}
