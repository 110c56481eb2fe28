import Foundation
import Testing
import XMPPServer
import XMPPServerKernel

/// docs/SECURITY.md's table of limits stays true: every limit key of the server and of its modules is in it, and
/// every key in it is one the server accepts, with the default it lists.
@Suite struct SecurityDocumentTests {
    /// The server's own limit keys (the modules' integer options are added from their declarations).
    static let serverLimitKeys: Set<String> = [
        "bosh_max_wait", "bosh_inactivity",
        "max_stanza_bytes", "read_rate", "read_burst", "max_outbound_bytes", "connections_per_ip", "auth_failures_per_ip",
        "auth_failures_per_account", "auth_failure_window", "negotiation_timeout", "idle_timeout", "keepalive_interval",
        "max_sessions_per_account", "max_directed_presence", "max_roster_items", "registration_limit", "ipv6_prefix_length", "write_stall_timeout", "max_pending_subscriptions",
        "admin_max_sessions", "admin_session_timeout",
    ]

    static func table() throws -> [(key: String, defaultValue: String)] {
        let text = try String(contentsOf: DocumentationTests.docs.appendingPathComponent("SECURITY.md"), encoding: .utf8)
        let begin = try #require(text.range(of: "<!-- limits:begin -->"))
        let end = try #require(text.range(of: "<!-- limits:end -->"))
        return text[begin.upperBound..<end.lowerBound].split(separator: "\n").compactMap { line in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, cells[0].hasPrefix("`") else { return nil }
            return (cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`")), cells[1])
        }
    }

    @Test func everyLimitIsDocumentedAndEveryDocumentedKeyIsReal() throws {
        let rows = try Self.table()
        let documented = Set(rows.map(\.key))
        var expected = Self.serverLimitKeys
        for module in StandardModules.all {
            for option in module.options {
                if case .integer = option.kind { expected.insert(option.key) }
            }
        }
        #expect(expected.subtracting(documented).isEmpty, "limits missing from docs/SECURITY.md: \(expected.subtracting(documented).sorted())")
        #expect(documented.subtracting(expected).isEmpty, "keys in docs/SECURITY.md that are no limit: \(documented.subtracting(expected).sorted())")
        for row in rows {
            var configuration = ServerConfiguration()
            #expect(throws: Never.self, "\(row.key) = \(row.defaultValue) is refused") {
                try ConfigFile.set(row.key, to: row.defaultValue, in: &configuration)
            }
        }
        // The defaults listed are the defaults in force.
        let defaults = ServerConfiguration()
        let listed = Dictionary(uniqueKeysWithValues: rows.map { ($0.key, $0.defaultValue) })
        #expect(listed["max_outbound_bytes"] == String(defaults.limits.maxOutboundBytes))
        #expect(listed["max_stanza_bytes"] == String(defaults.limits.maxStanzaBytes))
        #expect(listed["connections_per_ip"] == String(defaults.limits.connectionsPerIP))
        #expect(listed["max_directed_presence"] == String(defaults.kernel.maxDirectedPresence))
        #expect(listed["max_roster_items"] == String(defaults.kernel.maxRosterItems))
        #expect(listed["max_sessions_per_account"] == String(defaults.kernel.maxSessionsPerAccount))
        for module in StandardModules.all {
            for option in module.options where listed[option.key] != nil {
                #expect(listed[option.key] == option.defaultValue, "\(option.key)")
            }
        }
    }
}
