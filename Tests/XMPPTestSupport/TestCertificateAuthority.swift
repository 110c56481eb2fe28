import Crypto
import Foundation
import SwiftASN1
import X509

/// A small certificate authority for a test: its root in `certificatePath` (PEM), and certificates it issues for
/// servers (P-256, valid for a day, for TLS servers and clients both, as server-to-server streams use them).
public struct TestCertificateAuthority: Sendable {
    /// The root certificate, PEM: what `s2s_ca_file` and clients trust.
    public let certificatePath: String
    private let key: P256.Signing.PrivateKey
    private let name: DistinguishedName

    /// Creates the root (named `name`) and writes it to `directory`/`name`.crt.
    public init(name: String, directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        key = P256.Signing.PrivateKey()
        self.name = try DistinguishedName { CommonName(name) }
        let now = Date()
        let root = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(86_400),
            issuer: self.name, subject: self.name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                KeyUsage(keyCertSign: true)
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        certificatePath = "\(directory)/\(name).crt"
        try root.serializeAsPEM().pemString.write(toFile: certificatePath, atomically: true, encoding: .utf8)
    }

    /// Issues a certificate whose subject alternative names are `dnsNames` (the first is also its common name) and
    /// writes it and its key (PEM) to `certificatePath` and `keyPath`, creating their directory.
    public func issue(_ dnsNames: [String], certificatePath: String, keyPath: String) throws {
        let leafKey = P256.Signing.PrivateKey()
        try issue(dnsNames, certificatePath: certificatePath, for: leafKey)
        try leafKey.pemRepresentation.write(toFile: keyPath, atomically: true, encoding: .utf8)
    }

    /// Issues a certificate as above for the P-256 key (PEM) that is already in `keyPath` (one openssl made, for
    /// servers that read only its key format, such as ejabberd's Erlang).
    public func issue(_ dnsNames: [String], certificatePath: String, forKeyAt keyPath: String) throws {
        let key = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: keyPath, encoding: .utf8))
        try issue(dnsNames, certificatePath: certificatePath, for: key)
    }

    private func issue(_ dnsNames: [String], certificatePath: String, for leafKey: P256.Signing.PrivateKey) throws {
        let subject = try DistinguishedName { CommonName(dnsNames[0]) }
        let now = Date()
        let leaf = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(leafKey.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(86_400),
            issuer: name, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                KeyUsage(digitalSignature: true)
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames(dnsNames.map { .dnsName($0) })
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        let directory = URL(fileURLWithPath: certificatePath).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try leaf.serializeAsPEM().pemString.write(toFile: certificatePath, atomically: true, encoding: .utf8)
    }
}
