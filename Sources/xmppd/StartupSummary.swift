import Logging
import XMPPServer
import XMPPServerKernel

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
        return [
            "domain": "\(settings.domain)",
            "ports": "\(ports.map(String.init).joined(separator: ", ")) on \(settings.bindAddresses.joined(separator: ", "))",
            "services": "\(server.kernel.hostedServiceDomains.joined(separator: ", "))",
            "storage": "\(settings.storage == "memory" ? "memory (nothing kept after a stop)" : "sqlite \(settings.dataDirectory)/xmppd.sqlite")",
            "registration": "\(registration)",
            "certificate": "\(settings.certificatePath ?? "\(settings.dataDirectory)/\(settings.domain).crt (self-signed)")",
            "sha256": "\(server.tls.fingerprint)",
            "config": "\(configFile ?? "none (defaults and options)")",
            "admin_socket": "\(server.adminSocketPath)",
        ]
    }
}
