import ArgumentParser
import CommandLineSupport
import XMPPClient
import XMPPCore

/// `xmpp block JID...`: blocks contacts or domains (XEP-0191).
struct Block: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Block JIDs: you look offline to them and hear nothing from them (a domain blocks everyone on it).")
    @OptionGroup var options: ConnectionOptions
    @Argument(help: "Bare JIDs, full JIDs or domains.") var jids: [String]

    func run() async throws {
        let targets = try jids.map(parseJID)
        guard !targets.isEmpty else { throw ValidationError("name at least one JID to block") }
        try await withBlocking(options) { blocking in
            try await blocking.block(targets)
            for jid in targets { print("blocked \(jid)") }
        }
    }
}

/// `xmpp unblock JID...` or `xmpp unblock --all`.
struct Unblock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Unblock JIDs, or everyone with --all.")
    @OptionGroup var options: ConnectionOptions
    @Argument(help: "The JIDs to unblock.") var jids: [String] = []
    @Flag(help: "Unblock everyone.") var all = false

    func run() async throws {
        let targets = try jids.map(parseJID)
        guard all != !targets.isEmpty else { throw ValidationError("name the JIDs to unblock, or pass --all (not both)") }
        try await withBlocking(options) { blocking in
            if all {
                try await blocking.unblockAll()
                print("unblocked everyone")
            } else {
                try await blocking.unblock(targets)
                for jid in targets { print("unblocked \(jid)") }
            }
        }
    }
}

/// `xmpp blocklist`: one blocked JID per line.
struct Blocklist: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the blocked JIDs, one per line.")
    @OptionGroup var options: ConnectionOptions

    func run() async throws {
        try await withBlocking(options) { blocking in
            let blocked = try await blocking.fetch().sorted(by: { $0.description < $1.description })
            for jid in blocked { print(jid) }
            if blocked.isEmpty { Feedback.say("nothing is blocked") }
        }
    }
}

/// Logs in with a blocking module that does not fetch at login (each command asks what it needs), runs `body`.
private func withBlocking(_ options: ConnectionOptions, _ body: @escaping (BlockingModule) async throws -> Void) async throws {
    let blocking = BlockingModule(fetchesOnLogin: false)
    try await withClient(options, setUp: { $0.add(blocking) }) { _ in try await body(blocking) }
}
