import Crypto
import Foundation
import NIOCore
import XMPPCore
import XMPPServerKernel
import XMPPTransport

/// Where a remote server listens: a host and port, and whether TLS starts at once there (XEP-0368) or by STARTTLS.
struct RemoteAddress: Sendable, Hashable {
    let host: String
    let port: Int
    let directTLS: Bool
}

/// The federation options as the streams use them.
struct FederationSettings: Sendable {
    let localDomain: String
    let secret: [UInt8]
    let port: Int
    /// `s2s_tls_port`: where remote servers connect with TLS from the start (XEP-0368); 0 is off.
    let tlsPort: Int
    /// `s2s_hosts`: remote domain → host and port, tried before DNS.
    let hosts: [String: (host: String, port: Int)]
    /// `s2s_dns_servers`; empty means the system's.
    let dnsServers: [String]
    let requireTLS: Bool
    /// `s2s_ca_file`; empty means the system's trust store.
    let caFile: String
    /// `s2s_secure_auth`: certificates only, no dialback.
    let secureAuth: Bool
    let allowed: Set<String>
    let denied: Set<String>
    let queueLimit: Int
    let maxConnecting: Int
    let retrySeconds: Int64
    let setupSeconds: Int64
    let idleSeconds: Int64
    let maxIncoming: Int
    let bytesPerSecond: Int

    init(_ configuration: KernelConfiguration) {
        localDomain = configuration.domain
        // A secret of its own, derived from the server's: the dialback keys say nothing about the server's other uses.
        secret = Array(HMAC<SHA256>.authenticationCode(for: Array("s2s dialback".utf8), using: SymmetricKey(data: configuration.secret)))
        port = configuration.value(of: FederationModule.port)
        tlsPort = configuration.value(of: FederationModule.tlsPort)
        hosts = Self.parseHosts(configuration.value(of: FederationModule.hosts))
        dnsServers = configuration.value(of: FederationModule.dnsServers).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        requireTLS = configuration.value(of: FederationModule.requireTLS)
        caFile = configuration.value(of: FederationModule.caFile)
        secureAuth = configuration.value(of: FederationModule.secureAuth)
        allowed = Self.domains(configuration.value(of: FederationModule.allow))
        denied = Self.domains(configuration.value(of: FederationModule.deny))
        queueLimit = configuration.value(of: FederationModule.queueLimit)
        maxConnecting = configuration.value(of: FederationModule.maxConnecting)
        retrySeconds = Int64(configuration.value(of: FederationModule.retrySeconds) as Int)
        setupSeconds = Int64(configuration.value(of: FederationModule.setupSeconds) as Int)
        idleSeconds = Int64(configuration.value(of: FederationModule.idleSeconds) as Int)
        maxIncoming = configuration.value(of: FederationModule.maxIncoming)
        bytesPerSecond = configuration.value(of: FederationModule.bytesPerSecond)
    }

    /// Whether this server talks to `domain` (never to itself): not denied, nor a subdomain of a denied domain, and
    /// allowed (or a subdomain of an allowed domain) when `s2s_allow` is set.
    func permits(_ domain: String) -> Bool {
        domain != localDomain && !Self.covers(denied, domain) && (allowed.isEmpty || Self.covers(allowed, domain))
    }

    /// Whether `domain` or one of its parent domains is in `list`.
    private static func covers(_ list: Set<String>, _ domain: String) -> Bool {
        var candidate = Substring(domain)
        while true {
            if list.contains(String(candidate)) { return true }
            guard let dot = candidate.firstIndex(of: ".") else { return false }
            candidate = candidate[candidate.index(after: dot)...]
        }
    }

    /// The `s2s_hosts` entry for `domain` or, for a service such as `conference.example.org`, for the nearest parent
    /// domain listed.
    func configuredAddress(of domain: String) -> (host: String, port: Int)? {
        var candidate = Substring(domain)
        while true {
            if let entry = hosts[String(candidate)] { return entry }
            guard let dot = candidate.firstIndex(of: ".") else { return nil }
            candidate = candidate[candidate.index(after: dot)...]
        }
    }

    /// Where `domain`'s server listens, in the order to try (RFC 6120 §3.2.1, XEP-0368): the `s2s_hosts` entry, else
    /// the targets of the `_xmpps-server._tcp` (TLS from the start) and `_xmpp-server._tcp` (STARTTLS) SRV records
    /// merged by priority and weight, else the domain itself on 5269.
    func addresses(of domain: String, group: any EventLoopGroup) async -> [RemoteAddress] {
        if let configured = configuredAddress(of: domain) { return [RemoteAddress(host: configured.host, port: configured.port, directTLS: false)] }
        if domain != "localhost", (try? SocketAddress(ipAddress: domain, port: 0)) == nil {
            let lookup = SRVLookup(nameServers: dnsServers, group: group)
            async let direct = lookup.records(of: "_xmpps-server._tcp.\(domain)")
            async let startTLS = lookup.records(of: "_xmpp-server._tcp.\(domain)")
            let (directRecords, startTLSRecords) = await (direct, startTLS)
            let ordered = SRVLookup.merged(directTLS: directRecords, startTLS: startTLSRecords)
            // A few targets at most: each may take a connect timeout, all within one s2s_setup_seconds.
            if !ordered.isEmpty {
                return ordered.prefix(4).map { RemoteAddress(host: $0.record.target, port: Int($0.record.port), directTLS: $0.directTLS) }
            }
            // Only "." targets: the domain offers no server-to-server service (RFC 2782).
            if !directRecords.isEmpty || !startTLSRecords.isEmpty { return [] }
        }
        return [RemoteAddress(host: domain, port: 5269, directTLS: false)]
    }

    static func domains(_ list: String) -> Set<String> {
        Set(list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty })
    }

    /// Parses `DOMAIN=HOST:PORT, ...`; entries that do not parse are left out (see ``unparsableHosts(_:)``).
    static func parseHosts(_ list: String) -> [String: (host: String, port: Int)] {
        var hosts: [String: (host: String, port: Int)] = [:]
        for entry in list.split(separator: ",") {
            guard let (domain, address) = parseHost(entry) else { continue }
            hosts[domain] = address
        }
        return hosts
    }

    /// The entries of an `s2s_hosts` list that are not `DOMAIN=HOST:PORT` (logged at start).
    static func unparsableHosts(_ list: String) -> [String] {
        list.split(separator: ",").filter { parseHost($0) == nil }.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    private static func parseHost(_ entry: Substring) -> (String, (host: String, port: Int))? {
        let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, !parts[0].isEmpty, let colon = parts[1].lastIndex(of: ":"),
              let port = Int(parts[1][parts[1].index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = String(parts[1][..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return (parts[0].lowercased(), (host, port))
    }
}
