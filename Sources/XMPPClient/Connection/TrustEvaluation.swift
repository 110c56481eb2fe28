import Crypto
import Foundation
import SwiftASN1
import X509
import XMPPCore

/// The certificate chain a server presented, for a ``TrustEvaluator`` to judge: XMPPFramework's `didReceiveTrust`
/// in async form. It comes with the verdict of the usual checks, so an app can accept what they accept and ask the
/// user (or compare a fingerprint it stored) only for the rest.
public struct ServerCertificateChain: Sendable, Hashable {
    /// The certificates, leaf first, DER-encoded.
    public var certificates: [[UInt8]]
    /// The domain the certificate must be for: the JID's.
    public var domain: String
    /// Whether the chain passes the usual checks: it leads to a root of the system's trust store, every certificate
    /// is valid now, and the leaf names `domain` (RFC 6125).
    public var isTrustedBySystem: Bool

    /// The SHA-256 fingerprint of the leaf certificate, colon-separated uppercase hex (as xmppd logs it).
    public var fingerprint: String {
        SHA256.hash(data: certificates.first ?? []).map { String(format: "%02X", $0) }.joined(separator: ":")
    }
}

/// Decides whether to accept a server's certificate chain; it replaces the built-in checks, and
/// ``ServerCertificateChain/isTrustedBySystem`` says what they would have decided.
///
/// ```swift
/// configuration.trust = .evaluate(TrustEvaluator { chain in
///     chain.isTrustedBySystem || chain.fingerprint == storedFingerprint   // trust on first use
/// })
/// ```
public struct TrustEvaluator: Sendable, Hashable {
    private let id = UUID()
    let decide: @Sendable (ServerCertificateChain) async -> Bool

    /// Creates an evaluator from the app's decision.
    public init(_ decide: @escaping @Sendable (ServerCertificateChain) async -> Bool) {
        self.decide = decide
    }

    public static func == (lhs: TrustEvaluator, rhs: TrustEvaluator) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// The chain with the usual checks' verdict.
    static func chain(_ certificates: [[UInt8]], domain: String) async -> ServerCertificateChain {
        ServerCertificateChain(certificates: certificates, domain: domain,
                               isTrustedBySystem: await systemVerdict(certificates, domain: domain))
    }

    /// Whether the system trust store, the validity dates and the leaf's names accept the chain.
    private static func systemVerdict(_ certificates: [[UInt8]], domain: String) async -> Bool {
        let parsed = certificates.compactMap { try? Certificate(derEncoded: $0) }
        guard let leaf = parsed.first, parsed.count == certificates.count else { return false }
        var verifier = Verifier(rootCertificates: CertificateStore.systemTrustRoots) {
            RFC5280Policy(validationTime: Date())
            ServerIdentityPolicy(serverHostname: domain, serverIP: nil)
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(parsed.dropFirst()))
        if case .validCertificate = result { return true }
        return false
    }
}
