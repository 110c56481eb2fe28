import ArgumentParser
import Foundation
import XMPPClient
import XMPPCore

/// The options every command shares: who logs in, where, and which certificate is trusted.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "The account's JID (or XMPP_JID).")
    var jid: String?

    @Option(name: .long, help: "The password (or XMPP_PASSWORD).")
    var password: String?

    @Option(name: .long, help: "HOST[:PORT] to connect to instead of looking up SRV records of the JID's domain.")
    var server: String?

    @Flag(name: .long, help: "Start TLS at once (XEP-0368) instead of STARTTLS; the port defaults to 5223.")
    var directTLS = false

    @Option(name: .long, help: "A PEM file of CA certificates (or a self-signed server certificate) to trust.")
    var caFile: String?

    @Flag(name: .long, help: "Do not verify the server's certificate (local tests only).")
    var insecure = false

    @Option(name: .long, help: "Seconds to wait for the connection and each answer.")
    var timeout: Int = 20

    /// The client configuration these options describe.
    func configuration(sendsInitialPresence: Bool) throws -> XMPPClient.Configuration {
        let environment = ProcessInfo.processInfo.environment
        guard let rawJID = jid ?? environment["XMPP_JID"] else { throw ValidationError("give --jid or set XMPP_JID") }
        guard let password = password ?? environment["XMPP_PASSWORD"] else { throw ValidationError("give --password or set XMPP_PASSWORD") }
        guard let account = JID(validating: rawJID), account.localpart != nil else { throw ValidationError("not a user JID: \(rawJID)") }
        var configuration = XMPPClient.Configuration(jid: account, password: password,
                                                     connectTimeout: .seconds(timeout), requestTimeout: .seconds(timeout),
                                                     sendsInitialPresence: sendsInitialPresence)
        if let server {
            let (host, port) = try Self.hostAndPort(server, defaultPort: directTLS ? 5223 : 5222)
            configuration.server = .host(host, port: port, directTLS: directTLS)
        }
        if insecure {
            configuration.trust = .acceptAnyCertificate
        } else if let caFile {
            configuration.trust = .caFile(caFile)
        }
        return configuration
    }

    /// Splits `host`, `host:port` or `[v6]:port`.
    static func hostAndPort(_ text: String, defaultPort: Int) throws -> (String, Int) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || rest.hasPrefix(":"), let port = rest.isEmpty ? defaultPort : Int(rest.dropFirst()) else {
                throw ValidationError("bad --server \(text)")
            }
            return (host, port)
        }
        let parts = text.split(separator: ":")
        guard parts.count == 1 || parts.count == 2, let port = parts.count == 2 ? Int(parts[1]) : defaultPort else {
            throw ValidationError("bad --server \(text)")
        }
        return (String(parts[0]), port)
    }
}
