import Foundation
import SwiftASN1
import X509

/// What `xmppctl check` and xmppd's start-up find wrong (or worth knowing) about a certificate and its key, in
/// words an operator acts on: the path, and what is wrong with it.
public struct CertificateFinding: Sendable, Hashable, CustomStringConvertible {
    /// How much it matters.
    public enum Severity: String, Sendable, Hashable {
        /// The server cannot use it (missing file, no certificate, key does not match, expired).
        case error
        /// Clients will complain (another name, expiring soon).
        case warning
        /// Worth knowing (self-signed, the fingerprint).
        case note
    }

    /// How much it matters.
    public var severity: Severity
    /// What was found.
    public var message: String

    /// Creates a finding.
    public init(_ severity: Severity, _ message: String) {
        self.severity = severity
        self.message = message
    }

    public var description: String { "\(severity.rawValue): \(message)" }
}

/// Checks a PEM certificate chain and private key the way clients and the TLS library will use them.
public enum CertificateCheck {
    /// The findings for the chain at `certificatePath` with the key at `keyPath`, served for `domain`, at `now`.
    public static func check(certificatePath: String, keyPath: String, domain: String, now: Date = Date()) -> [CertificateFinding] {
        var findings: [CertificateFinding] = []
        guard let certificateText = readable(certificatePath, what: "certificate", into: &findings) else {
            _ = readable(keyPath, what: "private key", into: &findings)
            return findings
        }
        guard let leaf = try? Certificate(pemEncoded: firstPEMBlock(of: certificateText, kind: "CERTIFICATE") ?? "") else {
            findings.append(CertificateFinding(.error, "no PEM certificate in \(certificatePath) (expected -----BEGIN CERTIFICATE-----)"))
            return findings
        }
        if let keyText = readable(keyPath, what: "private key", into: &findings) {
            if let key = try? Certificate.PrivateKey(pemEncoded: keyText) {
                if key.publicKey != leaf.publicKey {
                    findings.append(CertificateFinding(.error, "the private key \(keyPath) does not belong to the certificate \(certificatePath)"))
                }
            } else {
                findings.append(CertificateFinding(.error, "no usable PEM private key in \(keyPath) (P-256, P-384, P-521, RSA or Ed25519)"))
            }
        }
        let names = dnsNames(of: leaf)
        if !names.contains(where: { matches($0, domain) }) {
            let listed = names.isEmpty ? "no DNS names" : names.joined(separator: ", ")
            findings.append(CertificateFinding(.warning, "the certificate is for \(listed), not \(domain): clients will refuse it"))
        }
        if leaf.notValidAfter < now {
            findings.append(CertificateFinding(.error, "the certificate expired on \(day(leaf.notValidAfter))"))
        } else if leaf.notValidAfter < now.addingTimeInterval(30 * 86_400) {
            findings.append(CertificateFinding(.warning, "the certificate expires on \(day(leaf.notValidAfter)), in less than 30 days"))
        }
        if leaf.notValidBefore > now {
            findings.append(CertificateFinding(.error, "the certificate is not valid before \(day(leaf.notValidBefore))"))
        }
        if leaf.issuer == leaf.subject {
            findings.append(CertificateFinding(.note, "the certificate is self-signed: clients must be given it to trust (xmpp --ca-file \(certificatePath))"))
        }
        return findings
    }

    /// The DNS names a certificate is valid for: its subject alternative names, else its common name.
    static func dnsNames(of certificate: Certificate) -> [String] {
        let alternatives = ((try? certificate.extensions.subjectAlternativeNames) ?? nil).map { names in
            names.compactMap { name -> String? in
                if case .dnsName(let dns) = name { return dns }
                return nil
            }
        } ?? []
        if !alternatives.isEmpty { return alternatives }
        return certificate.subject.flatMap { $0 }.filter { $0.type == .RDNAttributeType.commonName }.map { "\($0.value)" }
    }

    /// Whether certificate name `pattern` (possibly `*.example.com`, one label deep, RFC 6125 §6.4.3) covers `domain`.
    public static func matches(_ pattern: String, _ domain: String) -> Bool {
        let (pattern, domain) = (pattern.lowercased(), domain.lowercased())
        if pattern == domain { return true }
        guard pattern.hasPrefix("*."), let dot = domain.firstIndex(of: ".") else { return false }
        return domain[dot...] == pattern.dropFirst()
    }

    private static func readable(_ path: String, what: String, into findings: inout [CertificateFinding]) -> String? {
        let files = FileManager.default
        guard files.fileExists(atPath: path) else {
            findings.append(CertificateFinding(.error, "the \(what) file \(path) does not exist"))
            return nil
        }
        guard let data = files.contents(atPath: path) else {
            findings.append(CertificateFinding(.error, "the \(what) file \(path) cannot be read by this user"))
            return nil
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The first `-----BEGIN kind-----` block of a PEM file (a chain file holds several).
    private static func firstPEMBlock(of text: String, kind: String) -> String? {
        guard let start = text.range(of: "-----BEGIN \(kind)-----"),
              let end = text.range(of: "-----END \(kind)-----", range: start.upperBound..<text.endIndex) else { return nil }
        return String(text[start.lowerBound..<end.upperBound])
    }

    private static func day(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day())
    }
}
