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
/// - `logout USER` – the same for every session of a local account, by username
/// - `deluser USER` – deletes the account (every module's data, contacts told) and ends its sessions; answers
///   `deleted USER` or `error: no account USER`
/// - `stats` – `sessions N accounts N uptime-seconds N`, then the modules' figures as `name N` pairs (`mam_write_queue N ...`)
/// - `remote-domains` – one line per remote server domain with a ready stream: `domain in out` (the directions it has)
enum AdminSocket {
    /// The socket's path in a data directory.
    static func path(in dataDirectory: String) -> String { "\(dataDirectory)/xmppd.sock" }

    static func bind(kernel: ServerKernel, dataDirectory: String, group: any EventLoopGroup, started: Date) async throws -> any Channel {
        let path = path(in: dataDirectory)
        try? FileManager.default.removeItem(atPath: path)
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AdminCommandHandler(kernel: kernel, started: started))
                }
            }
            .bind(unixDomainSocketPath: path).get()
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        return channel
    }

    /// Answers one command line.
    static func answer(_ line: String, kernel: ServerKernel, started: Date) async -> String {
        // The argument is the rest of the line: a resource may contain spaces.
        let words = line.split(separator: " ", maxSplits: 1).map(String.init)
        switch words.first {
        case "sessions":
            return kernel.registry.allSessions().map(\.jid.description).sorted().joined(separator: "\n")
        case "kick" where words.count == 2, "logout" where words.count == 2:
            let address = words[0] == "logout" ? "\(words[1])@\(kernel.configuration.domain)" : words[1]
            guard let jid = JID(validating: address) else { return "error: invalid JID" }
            let targets = kernel.registry.entries(of: jid.bare).map(\.session).filter { jid.isBare || $0.jid == jid }
            for session in targets { session.close(with: StreamError(.policyViolation, text: "disconnected by the administrator")) }
            return "kicked \(targets.count)"
        case "deluser" where words.count == 2:
            guard let account = try? JID(localpart: words[1], domainpart: kernel.configuration.domain), let user = account.localpart else {
                return "error: invalid username"
            }
            do {
                guard try await kernel.deleteAccount(user) else { return "error: no account \(user)" }
            } catch {
                return "error: \(error)"
            }
            kernel.closeSessions(of: account, with: StreamError(.notAuthorized, text: "the account was removed"))
            return "deleted \(user)"
        case "stats":
            let accounts = (try? await kernel.storage.accounts.usernames().count) ?? -1
            let modules = kernel.statistics.map { " \($0.name) \($0.value)" }.joined()
            return "sessions \(kernel.registry.count) accounts \(accounts) uptime-seconds \(Int(Date().timeIntervalSince(started)))\(modules)"
        case "remote-domains":
            guard let links = kernel.remoteRouter as? ServerLinks else { return "" }
            return links.remoteDomains.map { $0.domain + ($0.incoming ? " in" : "") + ($0.outgoing ? " out" : "") }.joined(separator: "\n")
        default:
            return "error: unknown command (sessions, kick JID, logout USER, deluser USER, stats, remote-domains)"
        }
    }
}

/// Reads one line, answers it, closes the connection.
final class AdminCommandHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let kernel: ServerKernel
    private let started: Date
    private var line = ""

    init(kernel: ServerKernel, started: Date) {
        self.kernel = kernel
        self.started = started
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        line += String(buffer: unwrapInboundIn(data))
        guard let end = line.firstIndex(of: "\n") else {
            if line.utf8.count > 4096 { context.close(promise: nil) }
            return
        }
        let command = String(line[..<end]).trimmingCharacters(in: .whitespaces)
        let (kernel, started, channel) = (self.kernel, self.started, context.channel)
        Task {
            let reply = await AdminSocket.answer(command, kernel: kernel, started: started)
            let buffer = channel.allocator.buffer(string: reply + "\n")
            try? await channel.writeAndFlush(buffer)
            try? await channel.close()
        }
    }
}
