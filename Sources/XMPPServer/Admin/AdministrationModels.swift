import Foundation

/// What the server's administration answers: the values behind the admin console's pages, the JSON of its HTTP API
/// (docs/ADMIN-API.md) and the admin socket's lines. Every type is `Codable` as the API sends it.
public enum Administration {
    /// The dashboard's figures.
    public struct Overview: Sendable, Codable, Hashable {
        public var software: String
        public var version: String
        /// Every domain served, the first domain first.
        public var domains: [String]
        public var uptimeSeconds: Int
        /// Client connections open now (c2s, WebSocket, BOSH).
        public var connections: Int
        /// Bound sessions now.
        public var sessions: Int
        public var accounts: Int
        /// Messages received from clients since the start.
        public var messagesReceived: Int
        /// Messages per second over the last sampling interval.
        public var messagesPerSecond: Double
        public var residentMemoryBytes: Int
        /// The databases' files (with their write-ahead logs).
        public var storageBytes: Int
        public var rooms: Int
        public var remoteDomains: Int
        /// The modules' figures (`mam_write_queue`, ...), as `xmppctl stats` lists them.
        public var figures: [String: Int]
    }

    /// One point of the dashboard's live chart.
    public struct Sample: Sendable, Codable, Hashable {
        /// Seconds since 1970.
        public var time: Double
        public var sessions: Int
        public var messagesPerSecond: Double
    }

    /// An account as the user list shows it.
    public struct Account: Sendable, Codable, Hashable {
        public var jid: String
        public var username: String
        /// Sessions online now.
        public var sessions: Int
    }

    /// One page of accounts.
    public struct AccountPage: Sendable, Codable, Hashable {
        public var accounts: [Account]
        /// Accounts matching the search, on every page.
        public var total: Int
        /// The page shown, from 1.
        public var page: Int
        public var pageSize: Int
        public var query: String
    }

    /// One roster item of an account, at a glance.
    public struct Contact: Sendable, Codable, Hashable {
        public var jid: String
        public var name: String?
        public var subscription: String
        public var groups: [String]
    }

    /// An account in detail.
    public struct AccountDetails: Sendable, Codable, Hashable {
        public var jid: String
        public var username: String
        public var isDisabled: Bool
        public var sessions: [Session]
        public var roster: [Contact]
        /// The vCard's full name, nickname and email, when it has them.
        public var fullName: String?
        public var nickname: String?
        public var email: String?
    }

    /// An online session.
    public struct Session: Sendable, Codable, Hashable {
        /// The full JID.
        public var jid: String
        public var resource: String
        /// The client's address (the one a trusted proxy forwarded for).
        public var address: String
        /// `c2s_starttls`, `c2s_direct_tls`, `websocket`, `bosh`; `detached` for a stream-managed session waiting
        /// for its client to resume.
        public var listener: String
        /// `TLSv1.3`, ...; nil when TLS ends before the server (a WebSocket behind a proxy) or is not used.
        public var tlsVersion: String?
        /// The client's software as its capabilities name it (XEP-0115 `node`), when it sent them.
        public var client: String?
        /// Seconds since the client last sent anything.
        public var idleSeconds: Int
        /// Its presence: `available`, `away`, `chat`, `dnd`, `xa`, or nil before its first presence.
        public var presence: String?
    }

    /// One setting in effect.
    public struct Setting: Sendable, Codable, Hashable {
        public var key: String
        /// The value, `********` for secrets.
        public var value: String
    }

    /// Why an administrative request failed; ``status`` is the HTTP status the API answers with.
    public struct Failure: Error, Sendable, Codable, Hashable, CustomStringConvertible {
        /// `bad-request`, `not-found`, `conflict`, `internal`.
        public var error: String
        public var text: String

        public var description: String { text }
        var status: Int {
            switch error {
            case "bad-request": 400
            case "not-found": 404
            case "conflict": 409
            default: 500
            }
        }

        static func badRequest(_ text: String) -> Failure { Failure(error: "bad-request", text: text) }
        static func notFound(_ text: String) -> Failure { Failure(error: "not-found", text: text) }
        static func conflict(_ text: String) -> Failure { Failure(error: "conflict", text: text) }
        static func failed(_ text: String) -> Failure { Failure(error: "internal", text: text) }
    }
}
