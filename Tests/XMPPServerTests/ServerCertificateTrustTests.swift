import Crypto
import Foundation
import SwiftASN1
import Testing
import X509
@testable import XMPPServer

/// How remote servers' certificates are judged (RFC 6125 names, issuers, bounds), without the network.
@Suite struct ServerCertificateTrustTests {
    /// A key and a certificate, for issuing and presenting.
    struct Issued {
        let key: P256.Signing.PrivateKey
        let certificate: Certificate
        var der: [UInt8] {
            var serializer = DER.Serializer()
            try? serializer.serialize(certificate)
            return serializer.serializedBytes
        }
    }

    static func make(_ subject: String, issuer: Issued? = nil, version: Certificate.Version = .v3, isCA: Bool = false,
                     dnsNames: [String] = [], validFor seconds: TimeInterval = 3600) throws -> Issued {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(subject) }
        let extensions = try Certificate.Extensions {
            if version == .v3 {
                Critical(isCA ? BasicConstraints.isCertificateAuthority(maxPathLength: nil) : BasicConstraints.notCertificateAuthority)
                KeyUsage(digitalSignature: !isCA, keyCertSign: isCA)
                if !dnsNames.isEmpty { SubjectAlternativeNames(dnsNames.map { .dnsName($0) }) }
            }
        }
        let now = Date()
        let certificate = try Certificate(
            version: version, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-600), notValidAfter: now.addingTimeInterval(seconds),
            issuer: issuer?.certificate.subject ?? name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: Certificate.PrivateKey(issuer?.key ?? key))
        return Issued(key: key, certificate: certificate)
    }

    /// Whether `trust` (rooted at `root`) takes `chain` for `domain`.
    static func judge(_ chain: [Issued], as domain: String, root: Issued) async throws -> Bool {
        let directory = NSTemporaryDirectory() + "trust-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try root.certificate.serializeAsPEM().pemString.write(toFile: "\(directory)/ca.pem", atomically: true, encoding: .utf8)
        let presented = PresentedCertificates()
        presented.record(chain.map(\.der))
        let trust = try ServerCertificateTrust(caFile: "\(directory)/ca.pem")
        return await trust.authenticates(presented, as: domain)
    }

    @Test("DNS names match exactly or by a wildcard first label over at least two labels; nothing else")
    func names() {
        #expect(ServerCertificateTrust.names(["Alpha.Test"], include: "alpha.test"))
        #expect(ServerCertificateTrust.names(["*.alpha.test"], include: "conference.alpha.test"))
        #expect(!ServerCertificateTrust.names(["*.alpha.test"], include: "alpha.test"))
        #expect(!ServerCertificateTrust.names(["*.alpha.test"], include: "a.conference.alpha.test"))
        #expect(!ServerCertificateTrust.names(["*.test"], include: "alpha.test"))
        #expect(!ServerCertificateTrust.names(["*"], include: "alpha"))
        #expect(!ServerCertificateTrust.names(["c*.alpha.test"], include: "conference.alpha.test"))
        #expect(!ServerCertificateTrust.names(["*.*.test"], include: "a.b.test"))
        #expect(!ServerCertificateTrust.names(["beta.test"], include: "alpha.test"))
    }

    @Test("a leaf from the root naming the domain passes; another name, no SAN (common name only), expiry, a foreign root fail")
    func leaves() async throws {
        let root = try Self.make("root", isCA: true)
        #expect(try await Self.judge([Self.make("alpha.test", issuer: root, dnsNames: ["alpha.test", "*.alpha.test"])], as: "alpha.test", root: root))
        #expect(try await Self.judge([Self.make("x", issuer: root, dnsNames: ["*.alpha.test"])], as: "muc.alpha.test", root: root))
        #expect(try await !Self.judge([Self.make("alpha.test", issuer: root, dnsNames: ["alpha.test"])], as: "beta.test", root: root))
        #expect(try await !Self.judge([Self.make("alpha.test", issuer: root)], as: "alpha.test", root: root))
        #expect(try await !Self.judge([Self.make("alpha.test", issuer: root, dnsNames: ["alpha.test"], validFor: -60)], as: "alpha.test", root: root))
        let foreign = try Self.make("foreign", isCA: true)
        #expect(try await !Self.judge([Self.make("alpha.test", issuer: foreign, dnsNames: ["alpha.test"])], as: "alpha.test", root: root))
    }

    @Test("an intermediate must be a version 3 CA; chains with repeated subjects or more than six certificates fail")
    func issuers() async throws {
        let root = try Self.make("root", isCA: true)
        let intermediate = try Self.make("intermediate", issuer: root, isCA: true)
        let leaf = try Self.make("alpha.test", issuer: intermediate, dnsNames: ["alpha.test"])
        #expect(try await Self.judge([leaf, intermediate], as: "alpha.test", root: root))
        #expect(try await !Self.judge([leaf, intermediate, intermediate], as: "alpha.test", root: root))
        let oldStyle = try Self.make("intermediate-v1", issuer: root, version: .v1)
        #expect(try await !Self.judge([Self.make("alpha.test", issuer: oldStyle, dnsNames: ["alpha.test"]), oldStyle], as: "alpha.test", root: root))
        let notCA = try Self.make("not-a-ca", issuer: root, dnsNames: ["not-a-ca.test"])
        #expect(try await !Self.judge([Self.make("alpha.test", issuer: notCA, dnsNames: ["alpha.test"]), notCA], as: "alpha.test", root: root))
        var chain = [root]
        for level in 1...6 { chain.append(try Self.make("level \(level)", issuer: chain.last!, isCA: true)) }
        let deep = try Self.make("alpha.test", issuer: chain.last!, dnsNames: ["alpha.test"])
        #expect(try await !Self.judge([deep] + chain.dropFirst().reversed(), as: "alpha.test", root: root))
        #expect(try await Self.judge([deep] + chain.dropFirst().suffix(4).reversed(), as: "alpha.test", root: Issued(key: chain[2].key, certificate: chain[2].certificate)))
    }
}
