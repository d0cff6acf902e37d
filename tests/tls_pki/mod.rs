//! Certificates for the TLS tests, made on the spot with rcgen: a CA, a
//! server certificate for "localhost" it signs, client certificates, and
//! the rustls configurations built from them (PEM files on disk, so the
//! crate's PEM helpers are what load them).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use iochannels::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use iochannels::tls::rustls::server::WebPkiClientVerifier;
use iochannels::tls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use iochannels::tls::{TlsAcceptor, TlsConnector};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// A certificate authority that signs leaf certificates.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = KeyPair::generate().expect("CA key");
        Ca {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    pub fn cert(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A leaf certificate for `names`, with its key.
    pub fn leaf(
        &self,
        names: &[&str],
    ) -> (
        CertificateDer<'static>,
        PrivateKeyDer<'static>,
        String,
        String,
    ) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let params = CertificateParams::new(names).expect("leaf params");
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.der().clone(), der, cert.pem(), key.serialize_pem())
    }

    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert()).expect("CA as a root");
        roots
    }
}

/// A server with a CA-signed certificate for "localhost", written as PEM
/// files, and the CA a client must trust.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: Ca,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
    pub ca_pem: PathBuf,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = Ca::new("iochannels test CA");
        let (_, _, cert, key) = ca.leaf(&["localhost"]);
        let cert_pem = dir.path().join("server.pem");
        let key_pem = dir.path().join("server.key");
        let ca_pem = dir.path().join("ca.pem");
        std::fs::write(&cert_pem, cert).expect("writing server.pem");
        std::fs::write(&key_pem, key).expect("writing server.key");
        std::fs::write(&ca_pem, ca.pem()).expect("writing ca.pem");
        Pki {
            dir,
            ca,
            cert_pem,
            key_pem,
            ca_pem,
        }
    }

    /// The server's configuration, loaded from the PEM files.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        iochannels::tls::server_config(&self.cert_pem, &self.key_pem).expect("server config")
    }

    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.server_config())
    }

    /// A client configuration trusting this CA.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        iochannels::tls::client_config(&self.ca_pem).expect("client config")
    }

    pub fn connector(&self) -> TlsConnector {
        TlsConnector::from(self.client_config())
    }

    /// A server that also demands a client certificate signed by `client_ca`.
    pub fn mtls_acceptor(&self, client_ca: &Ca) -> TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::new(client_ca.roots()),
            provider.clone(),
        )
        .build()
        .expect("client verifier");
        let chain = iochannels::tls::load_certs(&self.cert_pem).expect("server chain");
        let key = iochannels::tls::load_private_key(&self.key_pem).expect("server key");
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .expect("mTLS server config");
        TlsAcceptor::from(Arc::new(config))
    }

    /// A client trusting this server's CA that presents a certificate signed by `ca`.
    pub fn client_with_cert(&self, ca: &Ca) -> Arc<ClientConfig> {
        let (cert, key, _, _) = ca.leaf(&["client.test"]);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(self.ca.roots())
            .with_client_auth_cert(vec![cert], key)
            .expect("client auth config");
        Arc::new(config)
    }
}

/// A client configuration that trusts only an unrelated CA.
pub fn untrusting_client() -> Arc<ClientConfig> {
    let other = Ca::new("some other CA");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(other.roots())
        .with_no_client_auth();
    Arc::new(config)
}

/// The name the server's certificate is for.
pub fn server_name() -> rustls::pki_types::ServerName<'static> {
    rustls::pki_types::ServerName::try_from("localhost").expect("a DNS name")
}
