import ArgumentParser
import CommandLineSupport
import Foundation
import XMPPClient
import XMPPCore

/// `xmpp conversations`: the conversation list, with each conversation's kind (one-to-one or room) and unread count,
/// from the local store brought up to date with the server's archive.
struct Conversations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List conversations, newest first: JID, kind (chat or room), unread count and the last message (tab-separated).",
        discussion: """
            Kept in a local store (see --store) and brought up to date from the server's archive; `xmpp chat` marks a \
            conversation read. Rooms (kind `room`) are listed when a program sharing the store (XMPPClient's archive beside \
            its MultiUserChatModule) stored their messages; a room's last message starts with the sender's nickname.
            """)
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
                let last = conversation.lastMessage.map(Self.describe) ?? ""
                print([conversation.peer.description, conversation.kind.rawValue, String(conversation.unreadCount),
                       last.replacingOccurrences(of: "\n", with: " ")].joined(separator: "\t"))
            }
            if list.isEmpty { Feedback.say("no conversations") }
        }
    }

    /// The last message as a line shows it: who sent it (`you`, or in a room the nickname), then the text.
    private static func describe(_ message: ArchivedMessage) -> String {
        let sender = message.direction == .outgoing ? "you: " : message.kind == .room ? "\(message.nickname ?? "?"): " : ""
        return sender + (message.isRetracted ? "(retracted)" : message.body)
    }
}
