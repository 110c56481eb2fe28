import Foundation
import NIOCore
import NIOSSL
import SwiftASN1
import X509
import XMPPCore

/// How a remote server's certificate is judged (RFC 6120 §13.7.2, RFC 6125): the chain leads to a root of
/// `s2s_ca_file` (the system's trust store when it is empty), every certificate is valid now, and the leaf names the
/// domain (a DNS name, a wildcard allowed in its first label). A chain that passes authenticates the domain by
/// itself (SASL EXTERNAL, XEP-0178; XEP-0344's dialback without a callback); one that fails leaves dialback.
struct ServerCertificateTrust: Sendable {
    private let roots: CertificateStore

    /// The trust roots of `caFile` (PEM, one or more certificates), or the system's when it is empty.
    init(caFile: String) throws {
        guard !caFile.isEmpty else {
            roots = CertificateStore.systemTrustRoots
            return
        }
        guard let text = try? String(contentsOfFile: caFile, encoding: .utf8) else {
            throw TLSSetupError.unusable(["s2s_ca_file \(caFile): cannot be read"])
        }
        let certificates = (try? PEMDocument.parseMultiple(pemString: text).map { try Certificate(pemDocument: $0) }) ?? []
        guard !certificates.isEmpty else { throw TLSSetupError.unusable(["s2s_ca_file \(caFile): no PEM certificate in it"]) }
        roots = CertificateStore(certificates)
    }

    /// Whether `chain` (leaf first, DER) authenticates `domain`.
    func authenticates(_ chain: [[UInt8]], as domain: String) async -> Bool {
        let parsed = chain.compactMap { try? Certificate(derEncoded: $0) }
        guard let leaf = parsed.first, parsed.count == chain.count else { return false }
        var verifier = Verifier(rootCertificates: roots) {
            RFC5280Policy(validationTime: Date())
            ServerIdentityPolicy(serverHostname: domain, serverIP: nil)
        }
        if case .validCertificate = await verifier.validate(leaf: leaf, intermediates: CertificateStore(parsed.dropFirst())) {
            return true
        }
        return false
    }
}

/// The certificate chain the remote presented in the TLS handshake (leaf first, DER), kept by the handshake's
/// verification callback, which accepts every chain: whether it authenticates a domain is decided afterwards, per
/// domain, by ``ServerCertificateTrust`` — a chain that does not must not end the connection, dialback may still work.
final class PresentedCertificates: Sendable {
    private let certificates = Locked<[[UInt8]]>([])

    /// The chain; empty when the remote presented none.
    var chain: [[UInt8]] { certificates.withLock { $0 } }

    /// For NIOSSL's `customVerificationCallback`.
    var callback: NIOSSLCustomVerificationCallback {
        { [certificates] presented, promise in
            certificates.withLock { $0 = presented.compactMap { try? $0.toDERBytes() } }
            promise.succeed(.certificateVerified)
        }
    }
}

extension ServerTLS {
    /// The contexts of server-to-server streams: the server side asks for the remote's certificate (without requiring
    /// one), the client side presents ours; neither rejects a chain by itself (see ``PresentedCertificates``). Both
    /// name the `xmpp-server` ALPN protocol (XEP-0368; a peer offering none or others is not refused).
    func federationContexts() throws -> (server: NIOSSLContext, client: NIOSSLContext) {
        let chain = certificateChain.map { NIOSSLCertificateSource.certificate($0) }
        var server = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(privateKey))
        server.minimumTLSVersion = .tlsv12
        server.certificateVerification = .optionalVerification
        server.applicationProtocols = ["xmpp-server"]
        var client = TLSConfiguration.makeClientConfiguration()
        client.minimumTLSVersion = .tlsv12
        client.certificateChain = chain
        client.privateKey = .privateKey(privateKey)
        client.certificateVerification = .optionalVerification
        client.applicationProtocols = ["xmpp-server"]
        return (try NIOSSLContext(configuration: server), try NIOSSLContext(configuration: client))
    }
}
