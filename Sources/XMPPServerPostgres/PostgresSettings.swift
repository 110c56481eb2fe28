import Foundation
import NIOSSL
import PostgresNIO

/// Where the PostgreSQL database is: from `postgresql_url` (`postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=MODE`),
/// with `sslmode` `disable` (default on loopback), `prefer`, `require` (encrypted, certificate checked against the
/// system's trust roots) or `verify-full` (the same).
public struct PostgresSettings: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 5432
    public var username = "xmppd"
    public var password: String?
    public var database = "xmppd"
    /// `disable`, `prefer`, `require` or `verify-full`.
    public var tlsMode = "disable"
    /// Connections in the pool at most.
    public var maxConnections = 20

    public init() {}

    /// Settings from a `postgres://` or `postgresql://` URL.
    public init(url text: String) throws {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty else {
            throw PostgresStorageError.badSettings("postgresql_url is postgres://USER:PASSWORD@HOST:PORT/DATABASE, not \(Self.masked(text))")
        }
        // An IPv6 literal comes with its brackets.
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        port = components.port ?? 5432
        // URLComponents decodes them already.
        if let user = components.user, !user.isEmpty { username = user }
        password = components.password
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !path.isEmpty { database = path }
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value, ["disable", "prefer", "require", "verify-full", "verify-ca"].contains(mode) else {
                    throw PostgresStorageError.badSettings("sslmode is disable, prefer, require or verify-full")
                }
                tlsMode = mode == "verify-ca" ? "verify-full" : mode
            case "pool":
                guard let count = item.value.flatMap(Int.init), (1...1000).contains(count) else {
                    throw PostgresStorageError.badSettings("pool is a number of connections from 1 to 1000")
                }
                maxConnections = count
            default:
                throw PostgresStorageError.badSettings("postgresql_url: unknown parameter \(item.name) (sslmode, pool)")
            }
        }
    }

    /// Where the database is, without the password: `postgres://USER@HOST:PORT/DATABASE`.
    public var location: String { "postgres://\(username)@\(host):\(port)/\(database)" }

    /// The URL with its password replaced by `********` (for logs and the admin console).
    public static func masked(_ url: String) -> String {
        guard var components = URLComponents(string: url) else {
            // Unparsable: nothing of it is shown but the scheme, since it may hold a password in any place.
            return url.contains("@") ? "postgres://********" : url
        }
        guard components.password != nil else { return url }
        components.password = "********"
        return components.string ?? "postgres://********"
    }

    func clientTLS() throws -> PostgresClient.Configuration.TLS {
        switch tlsMode {
        case "disable": return .disable
        case "prefer": return .prefer(.makeClientConfiguration())
        default: return .require(.makeClientConfiguration())
        }
    }
}
