import Crypto
import Foundation
import Logging
import NIOSSL
import SwiftASN1
import X509
import XMPPCore
import XMPPTransport

/// The server's TLS identity: the NIOSSL context for c2s listeners and the channel-binding data
/// (tls-server-end-point, RFC 5929) that lets clients use the SCRAM -PLUS mechanisms.
public struct ServerTLS: Sendable {
    /// The context for accepted connections (TLS 1.2 and 1.3).
    public let context: NIOSSLContext
    /// The certificate chain, leaf first.
    public let certificateChain: [NIOSSLCertificate]
    /// The key of the leaf certificate (server-to-server streams present the chain as a client too).
    let privateKey: NIOSSLPrivateKey
    /// The tls-server-end-point binding: the hash of the leaf certificate.
    public let serverEndPoint: ChannelBinding
    /// The SHA-256 fingerprint of the leaf certificate, as `AA:BB:...`.
    public let fingerprint: String

    /// Loads a PEM certificate chain and key.
    public init(certificatePath: String, privateKeyPath: String) throws {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        let key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        try self.init(chain: chain, key: key)
    }

    init(chain: [NIOSSLCertificate], key: NIOSSLPrivateKey) throws {
        guard let leaf = chain.first else { throw TLSSetupError.emptyChain }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                                     privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        context = try NIOSSLContext(configuration: configuration)
        certificateChain = chain
        privateKey = key
        let der = try leaf.toDERBytes()
        serverEndPoint = .tlsServerEndPoint(certificateDER: der)
        fingerprint = SHA256.hash(data: der).map { String(format: "%02X", $0) }.joined(separator: ":")
    }

    /// The certificate in `directory` for `domain`, generated (self-signed, P-256, one year) on first use.
    public static func selfSigned(domain: String, directory: String, logger: Logger) throws -> ServerTLS {
        let certificatePath = "\(directory)/\(domain).crt"
        let keyPath = "\(directory)/\(domain).key"
        let files = FileManager.default
        if !(files.fileExists(atPath: certificatePath) && files.fileExists(atPath: keyPath)) {
            let (certificatePEM, keyPEM) = try generate(domain: domain)
            try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
            do {
                try PrivateFile.write(Array(keyPEM.utf8), to: keyPath)
            } catch {
                throw TLSSetupError.cannotWrite(keyPath)
            }
            try Data(certificatePEM.utf8).write(to: URL(fileURLWithPath: certificatePath))
            logger.notice("generated a self-signed certificate", metadata: ["path": "\(certificatePath)"])
        }
        return try ServerTLS(certificatePath: certificatePath, privateKeyPath: keyPath)
    }

    /// A self-signed certificate and its key, as PEM. It is marked CA:TRUE so that BoringSSL clients can
    /// trust it directly as a root (see TOOLCHAIN-NOTES §3), and name-constrained to the domain: a client that
    /// trusts it trusts nothing else it could sign, should the key ever leak.
    static func generate(domain: String) throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(domain) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(365 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                KeyUsage(digitalSignature: true, keyCertSign: true)
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames([.dnsName(domain)])
                Critical(NameConstraints(permittedDNSDomains: [domain]))
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        return (try certificate.serializeAsPEM().pemString, key.pemRepresentation)
    }
}

/// Why TLS could not be set up.
public enum TLSSetupError: Error, CustomStringConvertible {
    /// The certificate file holds no certificate.
    case emptyChain
    /// A file could not be written.
    case cannotWrite(String)
    /// The configured certificate or key cannot be used, for these reasons (each names its file).
    case unusable([String])

    public var description: String {
        switch self {
        case .emptyChain: "the certificate file holds no certificate"
        case .cannotWrite(let path): "cannot write \(path)"
        case .unusable(let problems): problems.joined(separator: "; ")
        }
    }
}
