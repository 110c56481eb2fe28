import ArgumentParser
import CommandLineSupport
import Foundation
import XMPPClient
import XMPPCore

/// `xmpp conversations`: the conversation list, with unread counts, from the local store brought up to date with the
/// server's archive.
struct Conversations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List conversations, newest first: JID, unread count and the last message (tab-separated).",
        discussion: "Kept in a local store (see --store) and brought up to date from the server's archive; `xmpp chat` marks a conversation read.")
    @OptionGroup var options: ConnectionOptions
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let store = try storeOptions.open(for: try options.credentials().jid)
        let archive = MessageArchiveModule(storage: store)
        try await withClient(options, setUp: { $0.add(archive) }) { _ in
            // Offline messages arrive right after the login; the archive stores them off the event loop.
            try await Task.sleep(for: .milliseconds(300))
            await archive.flushStorage()
            let list = try archive.conversationList()
            for conversation in list {
                let last = conversation.lastMessage.map { ($0.direction == .outgoing ? "you: " : "") + ($0.isRetracted ? "(retracted)" : $0.body) } ?? ""
                print([conversation.peer.description, String(conversation.unreadCount), last.replacingOccurrences(of: "\n", with: " ")]
                    .joined(separator: "\t"))
            }
            if list.isEmpty { Feedback.say("no conversations") }
        }
    }
}
