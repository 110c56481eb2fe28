import Foundation
import NIOCore
import NIOPosix
import XMPPCore
import XMPPServerKernel

/// The administration socket `xmppctl` talks to: a Unix domain socket in the data directory (mode 0600, so
/// only the server's user can use it). One command per connection, one line each way:
///
/// - `sessions` – one line per online session: `full-jid`
/// - `kick JID` – closes the sessions of a bare or full JID with `policy-violation`; answers `kicked N`
/// - `logout USER` – the same for every session of a local account, by username (`USER@DOMAIN` on a virtual host)
/// - `deluser USER` – deletes the account (every module's data, contacts told) and ends its sessions; answers
///   `deleted USER` or `error: no account USER` (`USER@DOMAIN` on a virtual host)
/// - `stats` – `sessions N accounts N uptime-seconds N`, then the modules' figures as `name N` pairs (`mam_write_queue N ...`),
///   each added up over the domains served
/// - `remote-domains` – one line per remote server domain with a ready stream: `domain in out` (the directions it has)
enum AdminSocket {
    /// The socket's path in a data directory.
    static func path(in dataDirectory: String) -> String { "\(dataDirectory)/xmppd.sock" }

    static func bind(kernels: [ServerKernel], dataDirectory: String, group: any EventLoopGroup, started: Date) async throws -> any Channel {
        let path = path(in: dataDirectory)
        try? FileManager.default.removeItem(atPath: path)
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AdminCommandHandler(kernels: kernels, started: started))
                }
            }
            .bind(unixDomainSocketPath: path).get()
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        return channel
    }

    /// Answers one command line; `kernels` are the server's domains', the first domain's first.
    static func answer(_ line: String, kernels: [ServerKernel], started: Date) async -> String {
        // The argument is the rest of the line: a resource may contain spaces.
        let words = line.split(separator: " ", maxSplits: 1).map(String.init)
        /// A username of the first domain, or `user@domain` of any.
        func account(_ text: String) -> (kernel: ServerKernel, jid: JID)? {
            let domain = text.contains("@") ? JID(validating: text)?.domainpart : kernels.first?.configuration.domain
            guard let kernel = kernels.first(where: { $0.configuration.domain == domain }) else { return nil }
            let user = text.contains("@") ? String(text[..<text.firstIndex(of: "@")!]) : text
            guard let jid = try? JID(localpart: user, domainpart: kernel.configuration.domain), jid.localpart != nil else { return nil }
            return (kernel, jid)
        }
        switch words.first {
        case "sessions":
            return kernels.flatMap { $0.registry.allSessions().map(\.jid.description) }.sorted().joined(separator: "\n")
        case "kick" where words.count == 2, "logout" where words.count == 2:
            if words[0] == "kick", let jid = JID(validating: words[1]), !kernels.contains(where: { $0.configuration.domain == jid.domainpart }) {
                return "kicked 0"
            }
            let target = words[0] == "logout" ? account(words[1]) : JID(validating: words[1]).flatMap { jid in
                kernels.first { $0.configuration.domain == jid.domainpart }.map { ($0, jid) }
            }
            guard let (kernel, jid) = target else { return words[0] == "logout" ? "error: invalid username" : "error: invalid JID" }
            let targets = kernel.registry.entries(of: jid.bare).map(\.session).filter { jid.isBare || $0.jid == jid }
            for session in targets { session.close(with: StreamError(.policyViolation, text: "disconnected by the administrator")) }
            return "kicked \(targets.count)"
        case "deluser" where words.count == 2:
            guard let (kernel, account) = account(words[1]), let user = account.localpart else { return "error: invalid username" }
            // As given: a username of the first domain, or user@domain.
            let name = words[1].contains("@") ? account.description : user
            do {
                guard try await kernel.deleteAccount(user) else { return "error: no account \(name)" }
            } catch {
                return "error: \(error)"
            }
            kernel.closeSessions(of: account, with: StreamError(.notAuthorized, text: "the account was removed"))
            return "deleted \(name)"
        case "stats":
            var accounts = 0
            for kernel in kernels {
                guard let count = try? await kernel.storage.accounts.usernames().count else { accounts = -1; break }
                accounts += count
            }
            let sessions = kernels.reduce(0) { $0 + $1.registry.count }
            return "sessions \(sessions) accounts \(accounts) uptime-seconds \(Int(Date().timeIntervalSince(started)))"
                + CombinedFigures.statistics(of: kernels).map { " \($0.name) \($0.value)" }.joined()
        case "remote-domains":
            return CombinedFigures.remoteDomains(of: kernels)
                .map { $0.domain + ($0.incoming ? " in" : "") + ($0.outgoing ? " out" : "") }.joined(separator: "\n")
        default:
            return "error: unknown command (sessions, kick JID, logout USER, deluser USER, stats, remote-domains)"
        }
    }
}

/// Reads one line, answers it, closes the connection.
final class AdminCommandHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let kernels: [ServerKernel]
    private let started: Date
    private var line = ""

    init(kernels: [ServerKernel], started: Date) {
        self.kernels = kernels
        self.started = started
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        line += String(buffer: unwrapInboundIn(data))
        guard let end = line.firstIndex(of: "\n") else {
            if line.utf8.count > 4096 { context.close(promise: nil) }
            return
        }
        let command = String(line[..<end]).trimmingCharacters(in: .whitespaces)
        let (kernels, started, channel) = (self.kernels, self.started, context.channel)
        Task {
            let reply = await AdminSocket.answer(command, kernels: kernels, started: started)
            let buffer = channel.allocator.buffer(string: reply + "\n")
            try? await channel.writeAndFlush(buffer)
            try? await channel.close()
        }
    }
}
