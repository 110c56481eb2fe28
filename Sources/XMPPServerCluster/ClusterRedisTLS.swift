import NIOSSL

/// TLS to the cluster's Redis (`rediss://`): which certificate authorities vouch for Redis's certificate
/// (`cluster_redis_ca`), and the certificate this node presents when Redis asks for one (`cluster_redis_certificate`,
/// `cluster_redis_private_key`; Redis asks by default, `tls-auth-clients yes`). Redis's certificate must name the host
/// of the URL (a DNS name, or an IP address among its addresses).
public struct ClusterRedisTLS: Sendable, Equatable {
    /// A PEM file of the authorities to trust; empty: the system's.
    public var certificateAuthorities = ""
    /// A PEM file of this node's certificate chain; empty: none is presented.
    public var certificate = ""
    /// A PEM file of its private key (with ``certificate``).
    public var privateKey = ""

    /// Trusts the system's authorities and presents no certificate.
    public init() {}

    /// The client context every Redis connection of the node uses (TLS 1.2 or later, the peer verified); throws when a
    /// file cannot be read or only one of certificate and key is given.
    public func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if !certificateAuthorities.isEmpty {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificateAuthorities))
        }
        guard certificate.isEmpty == privateKey.isEmpty else {
            throw ClusterStartError(description: "cluster_redis_certificate and cluster_redis_private_key go together")
        }
        if !certificate.isEmpty {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: privateKey, format: .pem))
        }
        return try NIOSSLContext(configuration: configuration)
    }
}
