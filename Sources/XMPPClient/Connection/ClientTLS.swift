import Crypto
import Foundation
import NIOCore
import NIOSSL
import XMPPCore

/// The TLS side of a client connection: the context built from ``XMPPClient/Configuration/CertificateTrust``,
/// the handler that verifies the server against the JID's domain, and the channel binding SCRAM-PLUS uses.
struct ClientTLS: Sendable {
    let context: NIOSSLContext
    let trust: XMPPClient.Configuration.CertificateTrust
    /// The name the certificate must carry: the JID's domain.
    let domain: String

    init(trust: XMPPClient.Configuration.CertificateTrust, domain: String) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        switch trust {
        case .system:
            break
        case .caFile(let path):
            configuration.trustRoots = .file(path)
        case .caCertificates(let pems):
            configuration.trustRoots = .certificates(try pems.flatMap { try NIOSSLCertificate.fromPEMBytes(Array($0.utf8)) })
        case .pinned, .evaluate:
            // The pin, or the app's evaluator, replaces chain validation; the callback below decides.
            configuration.certificateVerification = .noHostnameVerification
        case .acceptAnyCertificate:
            configuration.certificateVerification = .none
        }
        do {
            if case .caFile(let path) = trust {
                // NIOSSL would only say "failedToLoadCertificate": name the file and what is wrong with it.
                _ = try NIOSSLCertificate.fromPEMFile(path)
            }
            self.context = try NIOSSLContext(configuration: configuration)
        } catch {
            let summary = switch trust {
            case .caFile(let path) where !FileManager.default.isReadableFile(atPath: path): "cannot read the CA file \(path)"
            case .caFile(let path): "no PEM certificate in the CA file \(path)"
            default: "the trusted certificates could not be loaded"
            }
            throw XMPPClientError.tlsFailed(FailureCause(.localConfiguration, summary, underlying: "\(error)"))
        }
        self.trust = trust
        self.domain = domain
    }

    /// A handler for one connection. The server name is sent (SNI) and verified unless it is an IP literal.
    func makeHandler() throws -> NIOSSLClientHandler {
        let hostname = domain.isIPLiteral ? nil : domain
        if case .evaluate(let evaluator) = trust {
            let domain = self.domain
            return try NIOSSLClientHandler(context: context, serverHostname: hostname) { certificates, promise in
                let chain = certificates.compactMap { try? $0.toDERBytes() }
                Task {
                    let accepted = await evaluator.decide(await TrustEvaluator.chain(chain, domain: domain))
                    promise.succeed(accepted ? .certificateVerified : .failed)
                }
            }
        }
        guard case .pinned(let pin) = trust else {
            return try NIOSSLClientHandler(context: context, serverHostname: hostname)
        }
        let expected = pin.lowercased().filter { $0 != ":" }
        return try NIOSSLClientHandler(context: context, serverHostname: hostname) { certificates, promise in
            guard let leaf = certificates.first, let der = try? leaf.toDERBytes() else {
                promise.succeed(.failed)
                return
            }
            let digest = SHA256.hash(data: der).hexString
            promise.succeed(digest == expected ? .certificateVerified : .failed)
        }
    }
}

extension String {
    /// Whether this is an IPv4 or IPv6 address rather than a host name.
    var isIPLiteral: Bool {
        (try? SocketAddress(ipAddress: self, port: 0)) != nil
    }
}
