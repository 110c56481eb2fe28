import Logging
import XMPPServerPostgres
import XMPPServerKernel

/// The settings in effect, by config key, for the console's configuration page: the server's own keys and every
/// module option (its default when the config file does not set it). Secrets are masked.
enum ConfigurationReport {
    static let mask = "********"

    static func settings(of configuration: ServerConfiguration, kernel: ServerKernel) -> [Administration.Setting] {
        func port(_ value: Int?) -> String { value.map(String.init) ?? "off" }
        let limits = configuration.limits
        let kernelSettings = configuration.kernel
        var settings: [(String, String)] = [
            ("domains", configuration.domains.joined(separator: ", ")),
            ("admins", kernelSettings.admins.map(\.description).sorted().joined(separator: ", ")),
            ("data_dir", configuration.dataDirectory),
            ("storage", configuration.storage),
            ("postgresql_url", configuration.storage == "postgresql" ? configuration.postgres.location + " (password not shown)" : ""),
            ("bind", configuration.bindAddresses.joined(separator: ", ")),
            ("c2s_port", String(configuration.c2sPort)),
            ("c2s_tls_port", port(configuration.c2sTLSPort)),
            ("http_port", port(configuration.httpPort)),
            ("https_port", port(configuration.httpsPort)),
            ("websocket_origins", configuration.webSocketOrigins.joined(separator: ", ")),
            ("websocket_url", configuration.webSocketURL ?? ""),
            ("trusted_proxies", configuration.trustedProxies.joined(separator: ", ")),
            // Each component's secret is masked; its domain is not.
            ("components", configuration.components.keys.sorted().map { "\($0)=\(mask)" }.joined(separator: ", ")),
            ("component_port", port(configuration.componentPort)),
            ("component_interfaces", configuration.componentInterfaces.joined(separator: ", ")),
            ("metrics_token", configuration.metricsToken == nil ? "" : mask),
            ("admin_console", String(configuration.adminConsole)),
            ("admin_max_sessions", String(configuration.adminMaxSessions)),
            ("admin_session_timeout", String(configuration.adminSessionTimeoutSeconds)),
            ("require_tls", String(configuration.requireTLS)),
            ("certificate", configuration.certificatePath ?? "(generated)"),
            ("private_key", configuration.privateKeyPath ?? "(generated)"),
            ("channel_binding", String(configuration.channelBinding)),
            ("log_level", configuration.logLevel.rawValue),
            ("allow_registration", "\(kernelSettings.registration)"),
            ("max_sessions_per_account", String(kernelSettings.maxSessionsPerAccount)),
            ("max_directed_presence", String(kernelSettings.maxDirectedPresence)),
            ("max_pending_subscriptions", String(kernelSettings.maxPendingSubscriptions)),
            ("max_roster_items", String(kernelSettings.maxRosterItems)),
            ("max_stanza_bytes", String(limits.maxStanzaBytes)),
            ("max_outbound_bytes", String(limits.maxOutboundBytes)),
            ("write_stall_timeout", String(limits.writeStallSeconds)),
            ("read_rate", String(limits.readBytesPerSecond)),
            ("read_burst", String(limits.readBurstBytes)),
            ("connections_per_ip", String(limits.connectionsPerIP)),
            ("ipv6_prefix_length", String(limits.ipv6PrefixLength)),
            ("auth_failures_per_ip", String(limits.authFailuresPerIP)),
            ("auth_failures_per_account", String(limits.authFailuresPerAccount)),
            ("auth_failure_window", String(limits.authFailureWindowSeconds)),
            ("negotiation_timeout", String(limits.negotiationTimeoutSeconds)),
            ("idle_timeout", String(limits.idleTimeoutSeconds)),
            ("keepalive_interval", String(limits.keepaliveIntervalSeconds)),
        ]
        for (host, files) in configuration.hostCertificates.sorted(by: { $0.key < $1.key }) {
            if let certificate = files.certificate { settings.append(("certificate.\(host)", certificate)) }
            if let key = files.privateKey { settings.append(("private_key.\(host)", key)) }
        }
        for (key, option) in kernel.options.sorted(by: { $0.key < $1.key }) {
            let value = kernelSettings.moduleSettings[key] ?? option.defaultValue
            settings.append((key, isSecret(key) && !value.isEmpty ? mask : value))
        }
        return settings.map { Administration.Setting(key: $0.0, value: $0.1) }
    }

    /// Whether a key names a secret (a password, a shared secret, a token).
    static func isSecret(_ key: String) -> Bool {
        ["secret", "password", "token"].contains { key.contains($0) }
    }
}
