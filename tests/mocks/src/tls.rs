//! A test certificate authority, so that the mocks serve HTTPS under the real
//! host names (`login.microsoftonline.com`, `api.semrush.com`, ...). A client
//! that connects to a mock's loopback address with the real name as SNI, and
//! trusts [`TestCa::pem`], verifies the mock's certificate as it would the
//! real service's.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io;
use std::sync::{Arc, OnceLock};

/// A self-signed ECDSA P-256 root, "Switchboard test CA", made once per
/// process; it signs a leaf certificate for each mock.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
    pem: String,
}

/// The test CA of this process, made on first use.
///
/// # Panics
///
/// Only if rcgen cannot generate a P-256 key pair or self-sign a
/// certificate, that is if the crypto backend itself is broken: no test
/// that needs the mocks could run then.
pub fn ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| match TestCa::generate() {
        Ok(ca) => ca,
        Err(e) => panic!("rcgen cannot make the Switchboard test CA: {e}"),
    })
}

impl TestCa {
    fn generate() -> Result<Self, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "Switchboard test CA");
        name.push(DnType::OrganizationName, "Switchboard");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        let pem = cert.pem();
        Ok(TestCa { cert, key, pem })
    }

    /// The CA certificate in PEM, for a client's trusted roots.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A TLS server configuration presenting a fresh leaf certificate, signed
    /// by this CA, for `names` plus `localhost` and `127.0.0.1`; ALPN offers
    /// `http/1.1` only.
    pub fn server_config(&self, names: &[&str]) -> io::Result<Arc<ServerConfig>> {
        let mut alt_names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        for local in ["localhost", "127.0.0.1"] {
            if !alt_names.iter().any(|name| name == local) {
                alt_names.push(local.to_owned());
            }
        }
        let mut params = CertificateParams::new(alt_names).map_err(io::Error::other)?;
        let mut subject = DistinguishedName::new();
        subject.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("localhost"),
        );
        params.distinguished_name = subject;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().map_err(io::Error::other)?;
        let leaf = params
            .signed_by(&key, &self.cert, &self.key)
            .map_err(io::Error::other)?;
        let private_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(io::Error::other)?
                .with_no_client_auth()
                .with_single_cert(vec![leaf.der().clone()], private_key)
                .map_err(io::Error::other)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}
