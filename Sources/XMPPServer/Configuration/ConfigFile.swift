import Foundation
import Logging
import NIOCore
import XMPPCore
import XMPPServerKernel
import XMPPServerPostgres

/// The `xmppd.conf` format: one `key = value` per line, `#` starts a comment, values may be quoted.
/// Every key and its default is listed in docs/CONFIG.md.
///
/// ```
/// domain = chat.example.com
/// bind = 0.0.0.0, ::
/// allow_registration = limited
/// ```
public enum ConfigFile {
    /// A line that cannot be understood.
    public struct ParseError: Error, CustomStringConvertible {
        /// The 1-based line number; 0 for an option given on the command line, or a file that cannot be read.
        public var line: Int
        /// What is wrong.
        public var message: String
        /// The config file, when the problem is in one.
        public var path: String?

        /// Creates an error.
        public init(line: Int, message: String, path: String? = nil) {
            self.line = line
            self.message = message
            self.path = path
        }

        public var description: String {
            switch (path, line) {
            case (let path?, 0): "\(path): \(message)"
            case (let path?, _): "\(path):\(line): \(message)"
            case (nil, 0): message
            case (nil, _): "line \(line): \(message)"
            }
        }
    }

    /// Reads `path` and applies it on top of `configuration`.
    public static func load(_ path: String, into configuration: inout ServerConfiguration) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ParseError(line: 0, message: "no such config file", path: path)
        }
        guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: path) else {
            throw ParseError(line: 0, message: isDirectory.boolValue ? "is a directory, not a config file" : "cannot be read by this user",
                             path: path)
        }
        do {
            try apply(String(decoding: data, as: UTF8.self), to: &configuration)
        } catch var error as ParseError {
            error.path = path
            throw error
        }
    }

    /// Applies the settings in `text` to `configuration`.
    public static func apply(_ text: String, to configuration: inout ServerConfiguration) throws {
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw ParseError(line: index + 1, message: "expected key = value")
            }
            let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
            var value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            do {
                try set(key, to: value, in: &configuration)
            } catch let error as ParseError {
                throw ParseError(line: index + 1, message: error.message)
            }
        }
    }

    /// Sets one option by its config-file name; used by the file parser and by `--set key=value`.
    public static func set(_ key: String, to value: String, in configuration: inout ServerConfiguration) throws {
        func int() throws -> Int {
            guard let number = Int(value), number >= 0 else { throw ParseError(line: 0, message: "\(key) needs a whole number") }
            return number
        }
        func bool() throws -> Bool {
            switch value.lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            default: throw ParseError(line: 0, message: "\(key) needs true or false")
            }
        }
        switch key {
        case "domain":
            configuration.domain = value.lowercased()
            configuration.virtualHosts.removeAll { $0 == configuration.domain }
        case "domains":
            // Every domain served, the first as `domain`: the rest are virtual hosts.
            var domains: [String] = []
            for text in value.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) where !text.isEmpty {
                guard let domain = JID(validating: text), domain.localpart == nil, domain.resourcepart == nil else {
                    throw ParseError(line: 0, message: "domains lists domain names, not \(text)")
                }
                if !domains.contains(domain.domainpart) { domains.append(domain.domainpart) }
            }
            guard let first = domains.first else { throw ParseError(line: 0, message: "domains lists at least one domain") }
            configuration.domain = first
            configuration.virtualHosts = Array(domains.dropFirst())
        case "admins":
            var admins: Set<JID> = []
            for text in value.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !text.isEmpty {
                guard let jid = JID(validating: text), jid.localpart != nil, jid.resourcepart == nil else {
                    throw ParseError(line: 0, message: "admins lists bare JIDs (user@domain), not \(text)")
                }
                admins.insert(jid)
            }
            configuration.kernel.admins = admins
        case "data_dir": configuration.dataDirectory = value
        case "bind": configuration.bindAddresses = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        case "c2s_port": configuration.c2sPort = try int()
        case "c2s_tls_port": configuration.c2sTLSPort = value == "off" ? nil : try int()
        case "http_port": configuration.httpPort = value == "off" ? nil : try int()
        case "https_port": configuration.httpsPort = value == "off" ? nil : try int()
        case "websocket_origins":
            configuration.webSocketOrigins = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        case "websocket_url":
            guard value.hasPrefix("ws://") || value.hasPrefix("wss://"), !value.contains(where: { "<>&\"' ".contains($0) }) else {
                throw ParseError(line: 0, message: "websocket_url is a ws:// or wss:// URL")
            }
            configuration.webSocketURL = value
        case "bosh": configuration.bosh = try bool()
        case "bosh_max_wait":
            let seconds = try int()
            guard (1...55).contains(seconds) else { throw ParseError(line: 0, message: "bosh_max_wait is from 1 to 55 seconds") }
            configuration.boshMaxWait = seconds
        case "bosh_inactivity":
            let seconds = try int()
            guard (1...3600).contains(seconds) else { throw ParseError(line: 0, message: "bosh_inactivity is from 1 to 3600 seconds") }
            configuration.boshInactivity = seconds
        case "trusted_proxies":
            let addresses = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for address in addresses where (try? SocketAddress(ipAddress: address, port: 0)) == nil {
                throw ParseError(line: 0, message: "trusted_proxies lists IP addresses, not \(address)")
            }
            configuration.trustedProxies = addresses
        case "components":
            var components: [String: String] = [:]
            for entry in value.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
                let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, let domain = JID(validating: parts[0].lowercased()), domain.localpart == nil,
                      domain.resourcepart == nil, !parts[1].isEmpty else {
                    throw ParseError(line: 0, message: "components lists DOMAIN=SECRET pairs, not \(entry)")
                }
                components[domain.domainpart] = parts[1]
            }
            if components[configuration.domain] != nil {
                throw ParseError(line: 0, message: "a component cannot have the server's own domain \(configuration.domain)")
            }
            configuration.components = components
        case "component_port": configuration.componentPort = value == "off" ? nil : try int()
        case "component_interfaces":
            configuration.componentInterfaces = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        case "metrics_token":
            guard value.utf8.count >= 16, value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw ParseError(line: 0, message: "metrics_token is at least 16 printable characters without spaces")
            }
            configuration.metricsToken = value
        case "admin_console": configuration.adminConsole = try bool()
        case "admin_max_sessions":
            configuration.adminMaxSessions = try int()
            guard configuration.adminMaxSessions >= 1 else { throw ParseError(line: 0, message: "admin_max_sessions is at least 1") }
        case "admin_session_timeout":
            configuration.adminSessionTimeoutSeconds = try int()
            guard configuration.adminSessionTimeoutSeconds >= 60 else { throw ParseError(line: 0, message: "admin_session_timeout is at least 60") }
        case "require_tls": configuration.requireTLS = try bool()
        case "certificate": configuration.certificatePath = value
        case "private_key": configuration.privateKeyPath = value
        case "channel_binding": configuration.channelBinding = try bool()
        case "storage":
            guard ["sqlite", "memory", "postgresql"].contains(value) else {
                throw ParseError(line: 0, message: "storage is sqlite, postgresql or memory")
            }
            configuration.storage = value
        case "postgresql_url":
            do {
                configuration.postgres = try PostgresSettings(url: value)
            } catch {
                throw ParseError(line: 0, message: "\(error)")
            }
        case "log_level":
            guard let level = Logger.Level(rawValue: value) else { throw ParseError(line: 0, message: "unknown log level \(value)") }
            configuration.logLevel = level
        case "allow_registration": configuration.kernel.registration = try registrationPolicy(value)
        case "registration_limit":
            // "count/seconds", the limit for allow_registration = limited.
            let parts = value.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 2 else { throw ParseError(line: 0, message: "registration_limit is count/seconds") }
            configuration.kernel.registration = .limited(count: parts[0], seconds: parts[1])
        case "max_sessions_per_account": configuration.kernel.maxSessionsPerAccount = try int()
        case "max_directed_presence": configuration.kernel.maxDirectedPresence = try int()
        case "max_pending_subscriptions": configuration.kernel.maxPendingSubscriptions = try int()
        case "max_roster_items":
            configuration.kernel.maxRosterItems = try int()
            guard (1...100_000).contains(configuration.kernel.maxRosterItems) else { throw ParseError(line: 0, message: "max_roster_items is from 1 to 100000") }
        case "max_stanza_bytes": configuration.limits.maxStanzaBytes = try int()
        case "max_outbound_bytes":
            configuration.limits.maxOutboundBytes = try int()
            guard configuration.limits.maxOutboundBytes >= 65_536 else { throw ParseError(line: 0, message: "max_outbound_bytes is at least 65536") }
        case "write_stall_timeout": configuration.limits.writeStallSeconds = try int()
        case "read_rate": configuration.limits.readBytesPerSecond = try int()
        case "read_burst": configuration.limits.readBurstBytes = try int()
        case "connections_per_ip": configuration.limits.connectionsPerIP = try int()
        case "ipv6_prefix_length":
            let length = try int()
            guard length <= 128 else { throw ParseError(line: 0, message: "ipv6_prefix_length is at most 128") }
            configuration.limits.ipv6PrefixLength = length
        case "auth_failures_per_ip": configuration.limits.authFailuresPerIP = try int()
        case "auth_failures_per_account": configuration.limits.authFailuresPerAccount = try int()
        case "auth_failure_window": configuration.limits.authFailureWindowSeconds = try int()
        case "negotiation_timeout": configuration.limits.negotiationTimeoutSeconds = try int()
        case "idle_timeout": configuration.limits.idleTimeoutSeconds = try int()
        case "keepalive_interval": configuration.limits.keepaliveIntervalSeconds = try int()
        case _ where key.hasPrefix("certificate.") || key.hasPrefix("private_key."):
            // A virtual host's own certificate: `certificate.b.example = PATH`, `private_key.b.example = PATH`.
            let isCertificate = key.hasPrefix("certificate.")
            let name = String(key.drop { $0 != "." }.dropFirst())
            guard let jid = JID(validating: name), jid.localpart == nil, jid.resourcepart == nil else {
                throw ParseError(line: 0, message: "\(key) names no domain")
            }
            let host = jid.domainpart
            var entry = configuration.hostCertificates[host] ?? (nil, nil)
            if isCertificate { entry.certificate = value } else { entry.privateKey = value }
            configuration.hostCertificates[host] = entry
        default:
            // Not the server's own: one of the modules' declared options (offline_limit, muc_domain, ...).
            guard let (module, option) = moduleOption(key) else { throw ParseError(line: 0, message: "unknown option \(key)") }
            if let problem = option.problem(with: value) {
                throw ParseError(line: 0, message: "\(problem) (an option of the \(module) module)")
            }
            configuration.kernel.moduleSettings[key] = value
        }
    }

    /// The module declaring `key` among the standard modules, and its declaration.
    static func moduleOption(_ key: String) -> (module: String, option: ConfigOption)? {
        for module in StandardModules.all {
            if let option = module.options.first(where: { $0.key == key }) { return (module.name, option) }
        }
        return nil
    }

    /// `closed`, `open` or `limited` (5 accounts per IP per hour unless `registration_limit` says otherwise).
    public static func registrationPolicy(_ value: String) throws -> RegistrationPolicy {
        switch value {
        case "closed", "false", "no": return .closed
        case "open", "true", "yes": return .open
        case "limited": return .limited(count: 5, seconds: 3600)
        default: throw ParseError(line: 0, message: "allow_registration is closed, open or limited")
        }
    }
}
