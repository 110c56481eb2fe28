import Foundation
import Logging
import XMPPCore
import XMPPServerKernel
import XMPPServerPostgres
import XMPPServerCluster
import XMPPServerSQLite

/// One domain the server serves: its storage, its certificate and its kernel (accounts, sessions, modules). A server
/// has one host per domain (``ServerConfiguration/domain`` first, then the virtual hosts), all on the same listeners;
/// what one host's users send to another's goes through federation, inside the process.
public final class ServerHost: Sendable {
    /// The host's settings (its domain, certificate and storage directory).
    public let configuration: ServerConfiguration
    /// The kernel of the domain.
    public let kernel: ServerKernel
    /// The domain's certificate.
    public let tls: ServerTLS
    /// The SQLite database, when that backend is in use.
    public let database: SQLiteDatabase?
    /// The PostgreSQL database (this domain's schema in it), when that backend is in use.
    public let postgres: PostgresDatabase?

    /// The domain.
    public var domain: String { configuration.domain }

    /// Opens the host's storage (creating its directory), loads or generates its certificate, and builds its kernel.
    /// `configuration.kernel.secret` must be set (the server's, shared by its hosts).
    init(configuration: ServerConfiguration, modules: [any ServerModule], logger: Logger,
         statementSeconds: (@Sendable (Double) -> Void)? = nil) throws {
        self.configuration = configuration
        if try ClusterModule.settings(in: configuration.kernel) != nil, configuration.storage != "postgresql" {
            // Nodes share everything that lasts through the database; SQLite files are one machine's.
            throw HostSetupError.invalidDomains("a cluster node (cluster_redis_url) needs storage = postgresql, the same database on every node")
        }
        let storage: ServerStorage
        if configuration.storage == "memory" {
            (database, postgres) = (nil, nil)
            storage = .inMemory()
        } else if configuration.storage == "postgresql" {
            database = nil
            let postgres = try PostgresDatabase(settings: configuration.postgres, domain: configuration.domain, logger: logger)
            self.postgres = postgres
            storage = postgres.storage
        } else {
            postgres = nil
            let directory = configuration.databaseDirectory
            if !FileManager.default.fileExists(atPath: directory) {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            }
            try DomainMarker.claim("\(directory)/xmppd.sqlite", for: configuration.domain)
            let database = try SQLiteDatabase(path: "\(directory)/xmppd.sqlite", statementSeconds: statementSeconds)
            self.database = database
            storage = database.storage
        }
        tls = try Self.loadCertificate(configuration, logger: logger)
        logger.notice("TLS certificate", metadata: ["domain": "\(configuration.domain)", "sha256": "\(tls.fingerprint)"])
        kernel = try ServerKernel(configuration: configuration.kernel, storage: storage, modules: modules, logger: logger)
    }

    /// The configured certificate (checked, with loud warnings for what clients will refuse), or a generated
    /// self-signed one in the data directory.
    private static func loadCertificate(_ configuration: ServerConfiguration, logger: Logger) throws -> ServerTLS {
        switch (configuration.certificatePath, configuration.privateKeyPath) {
        case (let certificate?, let key?):
            let findings = CertificateCheck.check(certificatePath: certificate, keyPath: key, domain: configuration.domain)
            let tls: ServerTLS
            do {
                tls = try ServerTLS(certificatePath: certificate, privateKeyPath: key)
            } catch {
                let problems = findings.filter { $0.severity == .error }.map(\.message)
                throw TLSSetupError.unusable(problems.isEmpty ? ["\(certificate) and \(key) cannot be used: \(error)"] : problems)
            }
            // TLS accepts an expired or not-yet-valid certificate; clients will not: say so loudly.
            for finding in findings where finding.severity != .note {
                let level: Logger.Level = finding.severity == .error ? .error : .warning
                logger.log(level: level, "\(finding.message)", metadata: ["certificate": "\(certificate)"])
            }
            return tls
        case (nil, nil):
            return try ServerTLS.selfSigned(domain: configuration.domain, directory: configuration.dataDirectory, logger: logger)
        default:
            let which = configuration.storageDirectory == nil ? "" : " for \(configuration.domain)"
            throw TLSSetupError.unusable(["give both certificate and private_key\(which) (or neither, for a generated self-signed certificate)"])
        }
    }
}
