import Logging
import XMPPServer
import XMPPServerKernel
import XMPPServerPostgres

/// The one log line that says what a started xmppd is: where it listens, what it serves and from which files, so an
/// operator reading the log knows without opening the config.
enum StartupSummary {
    static func metadata(of server: XMPPServer, configFile: String?) -> Logger.Metadata {
        let settings = server.configuration
        var seen: Set<Int> = []
        let ports = server.boundPorts.filter { seen.insert($0).inserted }
        let registration = switch settings.kernel.registration {
        case .closed: "closed (accounts by xmppctl adduser)"
        case .open: "open"
        case .limited(let count, let seconds): "limited (\(count) per address per \(seconds) s)"
        }
        let directTLS = server.federation.directTLSPorts.first.map { ", direct TLS \($0)" } ?? ""
        var summary: Logger.Metadata = [
            "domain": "\(settings.domain)",
            "ports": "\(ports.map(String.init).joined(separator: ", ")) on \(settings.bindAddresses.joined(separator: ", "))",
            "web": "\(webSummary(server))",
            "federation": "\(server.federation.boundPorts.first.map { "s2s \($0)" } ?? "off")\(directTLS)",
            "services": "\(server.kernel.hostedServiceDomains.joined(separator: ", "))",
            "storage": "\(storage(settings))",
            "registration": "\(registration)",
            "certificate": "\(settings.certificatePath ?? "\(settings.dataDirectory)/\(settings.domain).crt (self-signed)")",
            "sha256": "\(server.tls.fingerprint)",
            "config": "\(configFile ?? "none (defaults and options)")",
            "admin_socket": "\(server.adminSocketPath)",
        ]
        if server.hosts.count > 1 {
            summary["virtual_hosts"] = "\(server.hosts.dropFirst().map { "\($0.domain) (\($0.configuration.certificatePath ?? "self-signed"))" }.joined(separator: ", "))"
        }
        return summary
    }

    /// The web listener's ports and where XMPP over WebSocket is, or "off".
    private static func webSummary(_ server: XMPPServer) -> String {
        var seen: Set<Int> = []
        let http = server.web.httpPorts.filter { seen.insert($0).inserted }.map { "http \($0)" }
        let https = server.web.httpsPorts.filter { seen.insert($0).inserted }.map { "https \($0)" }
        let ports = http + https
        return ports.isEmpty ? "off" : "\(ports.joined(separator: ", ")) (WebSocket at /xmpp-websocket)"
    }

    /// Where the data is kept, without secrets.
    static func storage(_ settings: ServerConfiguration) -> String {
        switch settings.storage {
        case "memory": "memory (nothing kept after a stop)"
        case "postgresql": "postgresql \(settings.postgres.location)"
        default: "sqlite \(settings.dataDirectory)/xmppd.sqlite"
        }
    }
}
