import ArgumentParser
import CommandLineSupport
import XMPPClient
import XMPPCore

/// `xmpp bookmarks`: the account's chat room bookmarks (XEP-0402, or XEP-0048 on servers without PEP).
struct BookmarksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bookmarks", abstract: "Chat room bookmarks, shared by the account's clients: list, add, remove.",
        subcommands: [List.self, Add.self, Remove.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the bookmarks: room, name, nickname, autojoin (tab-separated).")
        @OptionGroup var options: ConnectionOptions

        func run() async throws {
            try await withBookmarks(options) { bookmarks in
                let all = try await bookmarks.list().sorted { $0.room.description < $1.room.description }
                for bookmark in all {
                    print([bookmark.room.description, bookmark.name ?? "", bookmark.nickname ?? "", bookmark.autojoin ? "autojoin" : ""]
                        .joined(separator: "\t"))
                }
                if all.isEmpty { Feedback.say("no bookmarks") }
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Bookmark a room (or change its bookmark).")
        @OptionGroup var options: ConnectionOptions
        @Argument(help: "The room's JID, e.g. tea@conference.example.com.") var room: String
        @Option(help: "A name to show for the room.") var name: String?
        @Option(help: "The nickname to enter with.") var nick: String?
        @Flag(help: "Enter the room whenever a client connects.") var autojoin = false

        func run() async throws {
            let jid = try parseJID(room)
            guard jid.isBare, jid.localpart != nil else { throw ValidationError("a room's JID is room@service, not \(room)") }
            try await withBookmarks(options) { bookmarks in
                try await bookmarks.add(Bookmark(room: jid, name: name, autojoin: autojoin, nickname: nick))
                print("bookmarked \(jid)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a room's bookmark.")
        @OptionGroup var options: ConnectionOptions
        @Argument(help: "The room's JID.") var room: String

        func run() async throws {
            let jid = try parseJID(room)
            try await withBookmarks(options) { bookmarks in
                try await bookmarks.remove(jid)
                print("removed \(jid.bare)")
            }
        }
    }
}

/// Logs in with a bookmarks module, runs `body`.
private func withBookmarks(_ options: ConnectionOptions, _ body: @escaping (BookmarksModule) async throws -> Void) async throws {
    let bookmarks = BookmarksModule()
    try await withClient(options, setUp: { $0.add(bookmarks) }) { _ in try await body(bookmarks) }
}
