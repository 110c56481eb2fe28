// xmppd: the SwiftXMPP server. With no arguments it serves `localhost` on loopback (5222 STARTTLS, 5223
// direct TLS) from ./data, with a generated self-signed certificate and an SQLite database.
import ArgumentParser
import CommandLineSupport
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import XMPPServer
import XMPPServerKernel

@main
struct XMPPDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xmppd",
        abstract: "The SwiftXMPP server.",
        discussion: """
            Options override the config file; every option is described in docs/CONFIG.md. Exit status: 0 stopped \
            normally, 1 usage or configuration error (options, config file, certificate), 3 cannot start (a port in \
            use, the data directory not usable).
            """)

    static func main() async {
        await ToolRunner.main(self, present: StartupFailure.failure(for:))
    }

    @Option(name: .long, help: "Config file (key = value lines); XMPPD_CONFIG when not given.")
    var config: String?

    @Flag(name: .long, help: "If the server cannot start, show the underlying error too.")
    var verbose = false

    @Option(name: .long, help: "The domain to serve (default localhost).")
    var domain: String?

    @Option(name: .long, help: "Directory for the database and generated certificate (default ./data).")
    var dataDir: String?

    @Option(name: .long, help: "Address to listen on; repeat for several (default 127.0.0.1 and ::1).")
    var bind: [String] = []

    @Option(name: .long, help: "STARTTLS client port (default 5222; 0 picks a free port).")
    var c2sPort: Int?

    @Option(name: .long, help: "Direct-TLS client port, or 'off' (default 5223).")
    var c2sTlsPort: String?

    @Option(name: .long, help: "Plain HTTP port of the web listener (WebSocket, discovery, health), or 'off' (default 5280).")
    var httpPort: String?

    @Option(name: .long, help: "HTTPS port of the web listener, or 'off' (default 5281).")
    var httpsPort: String?

    @Flag(name: .long, help: "Let anyone create an account with in-band registration (XEP-0077).")
    var allowRegistration = false

    @Option(name: .long, help: "Registration policy: closed, open or limited (per IP per hour).")
    var registration: String?

    @Option(name: .long, help: "Storage: sqlite (default), postgresql (see postgresql_url) or memory.")
    var storage: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Option(name: .long, help: "Any config-file option as key=value; repeatable.")
    var set: [String] = []

    @Flag(name: .long, help: "Print the modules' options (key, default, values, meaning) as a Markdown table, and exit.")
    var listOptions = false

    @Flag(name: .long, help: "Print the DOAP description of what the server implements, and exit.")
    var doap = false

    func run() async throws {
        if listOptions { return print(ModuleDocumentation.optionsTable()) }
        if doap { return print(ModuleDocumentation.doap(), terminator: "") }
        MemoryTuning.apply()
        var settings = ServerConfiguration()
        let config = config ?? ProcessInfo.processInfo.environment["XMPPD_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        if let config { try ConfigFile.load(config, into: &settings) }
        var overrides: [(String, String)] = []
        if let domain { overrides.append(("domain", domain)) }
        if let dataDir { overrides.append(("data_dir", dataDir)) }
        if !bind.isEmpty { overrides.append(("bind", bind.joined(separator: ","))) }
        if let c2sPort { overrides.append(("c2s_port", String(c2sPort))) }
        if let c2sTlsPort { overrides.append(("c2s_tls_port", c2sTlsPort)) }
        if let httpPort { overrides.append(("http_port", httpPort)) }
        if let httpsPort { overrides.append(("https_port", httpsPort)) }
        if allowRegistration { overrides.append(("allow_registration", "open")) }
        if let registration { overrides.append(("allow_registration", registration)) }
        if let storage { overrides.append(("storage", storage)) }
        if let logLevel { overrides.append(("log_level", logLevel)) }
        for pair in set {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--set needs key=value, got \(pair)") }
            overrides.append((parts[0], parts[1]))
        }
        for (key, value) in overrides {
            do {
                try ConfigFile.set(key, to: value, in: &settings)
            } catch {
                throw ToolFailure.usage("\(error)", hint: "`xmppd --list-options` lists every option with its values")
            }
        }

        let level = settings.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "xmppd")
        let server = try XMPPServer(configuration: settings, logger: logger)
        try await server.start()
        logger.notice("xmppd is serving", metadata: StartupSummary.metadata(of: server, configFile: config))
        // Each part of the server is a service; on SIGTERM/SIGINT they stop in reverse order: the admin socket and
        // the listeners first, then the sessions (closed with system-shutdown) and storage.
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: server.services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
