import Foundation
import NIOCore
import NIOSSL
import SwiftASN1
import X509
import XMPPCore

/// How a remote server's certificate is judged (RFC 6120 §13.7.2, RFC 6125): the chain leads to a root of
/// `s2s_ca_file` (the system's trust store when it is empty), every certificate is valid now, every issuer is a
/// version 3 CA certificate, and the leaf names the domain in a DNS name of its subject alternative names (a `*` as
/// the whole first label of a name with at least two more labels; the common name is never read). A chain that
/// passes authenticates the domain by itself (SASL EXTERNAL, XEP-0178; XEP-0344's dialback without a callback); one
/// that fails leaves dialback.
///
/// Bounded, because a remote chooses what it presents: chains of at most ``maxChainLength`` certificates with
/// distinct subjects (chain building tries every issuer candidate), the chain verified once per connection (the names
/// are matched per domain), and at most ``maxConcurrentChecks`` verifications at once in the whole server (one more
/// counts as not verified).
struct ServerCertificateTrust: Sendable {
    static let maxChainLength = 6
    static let maxConcurrentChecks = 16
    private let roots: CertificateStore
    private let checking = Locked(0)

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

    /// Whether what the remote presented authenticates `domain`.
    func authenticates(_ presented: PresentedCertificates, as domain: String) async -> Bool {
        guard let names = presented.leafDNSNames, Self.names(names, include: domain) else { return false }
        if let verdict = presented.verdict { return verdict }
        let verdict = await verifies(presented.chain)
        presented.verdict = verdict
        return verdict
    }

    /// Whether `chain` (leaf first, DER) leads to a trusted root under the rules above, whatever names it has.
    private func verifies(_ chain: [[UInt8]]) async -> Bool {
        let parsed = chain.compactMap { try? Certificate(derEncoded: $0) }
        guard let leaf = parsed.first, parsed.count == chain.count, parsed.count <= Self.maxChainLength,
              Set(parsed.map(\.subject)).count == parsed.count else { return false }
        let admitted = checking.withLock { count -> Bool in
            guard count < Self.maxConcurrentChecks else { return false }
            count += 1
            return true
        }
        guard admitted else { return false }
        defer { checking.withLock { $0 -= 1 } }
        var verifier = Verifier(rootCertificates: roots) {
            RFC5280Policy(validationTime: Date())
            IssuersAreCertificateAuthorities()
        }
        if case .validCertificate = await verifier.validate(leaf: leaf, intermediates: CertificateStore(parsed.dropFirst())) {
            return true
        }
        return false
    }

    /// Whether one of a certificate's DNS names names `domain` (RFC 6125 §6.4, strictly): equal ignoring case, or
    /// `*.rest` where `rest` has at least two labels and `domain` is one label more than `rest`.
    static func names(_ dnsNames: [String], include domain: String) -> Bool {
        let domain = domain.lowercased()
        return dnsNames.contains { candidate in
            let name = candidate.lowercased()
            if name == domain { return true }
            guard name.hasPrefix("*."), let dot = domain.firstIndex(of: ".") else { return false }
            let rest = name.dropFirst(2)
            return rest.contains(".") && !rest.contains("*") && domain[domain.index(after: dot)...] == rest && dot != domain.startIndex
        }
    }
}

/// Every certificate that issued another in the chain (the root aside: trust stores keep old roots) is a version 3
/// CA certificate allowed to sign certificates; swift-certificates' RFC 5280 policy lets a version 1 certificate issue.
private struct IssuersAreCertificateAuthorities: VerifierPolicy {
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = []

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        for issuer in chain.dropFirst().dropLast() {
            guard issuer.version == .v3, case .isCertificateAuthority? = try? issuer.extensions.basicConstraints else {
                return .failsToMeetPolicy(reason: "an issuer is not a version 3 CA certificate")
            }
            if let usage = try? issuer.extensions.keyUsage, !usage.keyCertSign {
                return .failsToMeetPolicy(reason: "an issuer may not sign certificates")
            }
        }
        return .meetsPolicy
    }
}

/// The certificate chain the remote presented in the TLS handshake (leaf first, DER), kept by the handshake's
/// verification callback, which accepts every chain: whether it authenticates a domain is decided afterwards, per
/// domain, by ``ServerCertificateTrust`` — a chain that does not must not end the connection, dialback may still work.
final class PresentedCertificates: Sendable {
    private struct State {
        var chain: [[UInt8]] = []
        var leafDNSNames: [String]?
        var verdict: Bool?
    }

    private let state = Locked(State())

    /// The chain; empty when the remote presented none.
    var chain: [[UInt8]] { state.withLock { $0.chain } }
    /// The DNS names among the leaf's subject alternative names; nil without a leaf, or without such names.
    var leafDNSNames: [String]? { state.withLock { $0.leafDNSNames } }
    /// Whether the chain verified, once it was checked (names aside).
    var verdict: Bool? {
        get { state.withLock { $0.verdict } }
        set { state.withLock { $0.verdict = newValue } }
    }

    /// For NIOSSL's `customVerificationCallback`.
    var callback: NIOSSLCustomVerificationCallback {
        { [self] presented, promise in
            record(presented.compactMap { try? $0.toDERBytes() })
            promise.succeed(.certificateVerified)
        }
    }

    /// Keeps `chain` (leaf first, DER) as what the remote presented.
    func record(_ chain: [[UInt8]]) {
        let names = chain.first.flatMap { try? Certificate(derEncoded: $0) }
            .flatMap { try? $0.extensions.subjectAlternativeNames }?
            .compactMap { name -> String? in if case .dnsName(let dns) = name { dns } else { nil } }
        state.withLock { $0 = State(chain: chain, leafDNSNames: names?.isEmpty == false ? names : nil) }
    }
}

extension ServerTLS {
    /// Whether our certificate is its own issuer (the generated one, or an operator's self-signed one): no peer
    /// authenticates us by it unless it pinned it as a root, so outgoing streams go straight to dialback.
    var isSelfSigned: Bool {
        guard let der = try? certificateChain.first?.toDERBytes(), let leaf = try? Certificate(derEncoded: der) else { return false }
        return certificateChain.count == 1 && leaf.issuer == leaf.subject
    }

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
