import Foundation
import NIOCore
import NIOPosix
import XMPPCore
import XMPPServerKernel
import XMPPServerMUC

/// The administration socket `xmppctl` talks to: a Unix domain socket in the data directory (mode 0600, so
/// only the server's user can use it). One command per connection, one line each way; each command is a call of
/// the ``ServerAdministration`` API, which the web console calls too. Accounts are usernames of the first domain,
/// or `USER@DOMAIN`:
///
/// - `sessions` – one line per online session: `full-jid`
/// - `kick JID` – closes the sessions of a bare or full JID with `policy-violation`; answers `kicked N`
/// - `logout USER` – the same for every session of a local account
/// - `deluser USER` – deletes the account (every module's data, contacts told) and ends its sessions; answers
///   `deleted USER` or `error: no account USER`
/// - `adduser USER PASSWORD`, `passwd USER PASSWORD` – answers `created USER`, `changed USER`
/// - `stats` – `sessions N accounts N uptime-seconds N`, then the modules' figures as `name N` pairs (`mam_write_queue N ...`),
///   each added up over the domains served
/// - `remote-domains` – one line per remote server domain with a ready stream: `domain in out` (the directions it has)
/// - `rooms` – one line per chat room: `jid occupants N persistent|temporary`
/// - `mkroom ROOM@SERVICE [TITLE]` – creates a persistent room owned by the first administrator; `rmroom ROOM@SERVICE [REASON]`
///   destroys one; answers `created ROOM`, `destroyed ROOM`
///
/// - `user USER` – the account at a glance: `jid`, `disabled`, then `session JID ADDRESS LISTENER TLS`, `contact JID
///   SUBSCRIPTION NAME` and `name`/`nickname`/`email` lines from its vCard
/// - `settings` – the settings in effect, `key = value`, secrets masked; `log` – the recent warnings, newest first
///
/// A failure is one line `error: TEXT`.
enum AdminSocket {
    /// The socket's path in a data directory.
    static func path(in dataDirectory: String) -> String { "\(dataDirectory)/xmppd.sock" }

    static func bind(administration: ServerAdministration, dataDirectory: String, group: any EventLoopGroup) async throws -> any Channel {
        let path = path(in: dataDirectory)
        try? FileManager.default.removeItem(atPath: path)
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AdminCommandHandler(administration: administration))
                }
            }
            .bind(unixDomainSocketPath: path).get()
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        return channel
    }

    static let usage = "error: unknown command (sessions, kick JID, logout USER, deluser USER, adduser USER PASSWORD, passwd USER PASSWORD, "
        + "stats, remote-domains, rooms, mkroom ROOM [TITLE], rmroom ROOM [REASON], user USER, settings, log)"

    /// Answers one command line.
    static func answer(_ line: String, administration: ServerAdministration) async -> String {
        // The argument is the rest of the line: a resource may contain spaces.
        let words = line.split(separator: " ", maxSplits: 1).map(String.init)
        let argument = words.count == 2 ? words[1] : ""
        /// The argument split into its first word and the rest.
        var pair: (String, String) {
            let parts = argument.split(separator: " ", maxSplits: 1).map(String.init)
            return (parts.first ?? "", parts.count == 2 ? parts[1] : "")
        }
        do {
            switch words.first {
            case "sessions":
                return administration.kernels.flatMap { $0.registry.allSessions().map(\.jid.description) }.sorted().joined(separator: "\n")
            case "kick" where words.count == 2:
                guard let kicked = try? administration.kick(argument) else { return "error: invalid JID" }
                return "kicked \(kicked)"
            case "logout" where words.count == 2:
                guard let jid = try? administration.account(argument).jid else { return "error: invalid username" }
                return "kicked \(try administration.kick(jid.description))"
            case "deluser" where words.count == 2:
                guard let (_, jid, user) = try? administration.account(argument) else { return "error: invalid username" }
                // As given: a username of the first domain, or user@domain.
                let name = argument.contains("@") ? jid.description : user
                do {
                    try await administration.deleteAccount(argument)
                } catch where error.error == "not-found" {
                    return "error: no account \(name)"
                }
                return "deleted \(name)"
            case "adduser" where words.count == 2, "passwd" where words.count == 2:
                let (user, password) = pair
                if words[0] == "adduser" {
                    _ = try await administration.createAccount(user, password: password)
                    return "created \(user)"
                }
                try await administration.setPassword(of: user, to: password)
                return "changed \(user)"
            case "stats":
                let overview = await administration.overview()
                return "sessions \(overview.sessions) accounts \(overview.accounts) uptime-seconds \(overview.uptimeSeconds)"
                    + CombinedFigures.statistics(of: administration.kernels).map { " \($0.name) \($0.value)" }.joined()
            case "remote-domains":
                return CombinedFigures.remoteDomains(of: administration.kernels)
                    .map { $0.domain + ($0.incoming ? " in" : "") + ($0.outgoing ? " out" : "") }.joined(separator: "\n")
            case "user" where words.count == 2:
                let details = try await administration.accountDetails(argument)
                var lines = ["jid \(details.jid)", "disabled \(details.isDisabled)"]
                lines += details.sessions.map { "session \($0.jid) \($0.address) \($0.listener) \($0.tlsVersion ?? "-")" }
                lines += details.roster.map { "contact \($0.jid) \($0.subscription)" + ($0.name.map { " \($0)" } ?? "") }
                lines += [("name", details.fullName), ("nickname", details.nickname), ("email", details.email)]
                    .compactMap { label, value in value.map { "\(label) \($0)" } }
                return lines.joined(separator: "\n")
            case "settings":
                return administration.settings.map { "\($0.key) = \($0.value)" }.joined(separator: "\n")
            case "log":
                let formatter = ISO8601DateFormatter()
                return administration.logLines.map { "\(formatter.string(from: $0.time)) \($0.level) \($0.message) \($0.metadata)" }
                    .joined(separator: "\n")
            case "rooms":
                return await administration.rooms()
                    .map { "\($0.jid) occupants \($0.occupants) \($0.isPersistent ? "persistent" : "temporary")" }.joined(separator: "\n")
            case "mkroom" where words.count == 2:
                let (room, title) = pair
                return "created \(try await administration.createRoom(room, title: title).jid)"
            case "rmroom" where words.count == 2:
                let (room, reason) = pair
                try await administration.destroyRoom(room, reason: reason.isEmpty ? nil : reason)
                return "destroyed \(room)"
            default:
                return usage
            }
        } catch {
            return "error: \(error)"
        }
    }
}

/// Reads one line, answers it, closes the connection.
final class AdminCommandHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let administration: ServerAdministration
    private var line = ""

    init(administration: ServerAdministration) {
        self.administration = administration
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        line += String(buffer: unwrapInboundIn(data))
        guard let end = line.firstIndex(of: "\n") else {
            if line.utf8.count > 4096 { context.close(promise: nil) }
            return
        }
        let command = String(line[..<end]).trimmingCharacters(in: .whitespaces)
        let (administration, channel) = (self.administration, context.channel)
        Task {
            let reply = await AdminSocket.answer(command, administration: administration)
            let buffer = channel.allocator.buffer(string: reply + "\n")
            try? await channel.writeAndFlush(buffer)
            try? await channel.close()
        }
    }
}
