import ArgumentParser
import CommandLineSupport
import Foundation
import XMPPClient
import XMPPCore

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a conversation from the server's message archive (XEP-0313), oldest first.")
    @OptionGroup var options: ConnectionOptions
    @Argument(help: "The contact's JID.") var contact: String
    @Option(help: "Only messages since this date: 2026-12-01 or an ISO 8601 date-time.") var since: String?
    @Option(help: "At most this many messages, the newest.") var limit: Int = 50

    func run() async throws {
        let peer = try parseJID(contact)
        let start = try since.map(Self.parseDate)
        let archive = MessageArchiveModule(synchronizesWithServer: false)
        try await withClient(options, setUp: { $0.add(archive) }) { client in
            let page = try await archive.queryServer(with: peer.bare, start: start, before: "", max: limit)
            for message in page.messages { if let line = Self.line(for: message, account: client.configuration.jid) { print(line) } }
            if page.messages.isEmpty { Feedback.say("no messages") }
        }
    }

    /// `2026-12-01T19:45:03Z alice@example.com: text`, or `nil` for a message without a body.
    static func line(for message: ServerArchivedMessage, account: JID) -> String? {
        guard let parsed = Message(element: message.stanza), let body = parsed.body else { return nil }
        let sender = parsed.from?.bare ?? account.bare
        return "\(message.timestamp.formatted(.iso8601)) \(sender): \(body)"
    }

    /// A day (`2026-12-01`, midnight UTC) or an ISO 8601 date-time.
    static func parseDate(_ text: String) throws -> Date {
        if let date = Delay.parse(text) { return date }
        if let day = try? Date(text + "T00:00:00Z", strategy: .iso8601) { return day }
        throw ValidationError("not a date: \(text) (use 2026-12-01 or 2026-12-01T08:00:00Z)")
    }
}
