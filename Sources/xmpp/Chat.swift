import ArgumentParser
import Foundation
import XMPPClient
import XMPPCore

struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with one contact: incoming messages print as they arrive, typed lines are sent; end with EOF (Ctrl-D).")
    @OptionGroup var options: ConnectionOptions
    @Argument(help: "The contact's JID.") var contact: String

    func run() async throws {
        let peer = try parseJID(contact)
        let chat = ChatModule()
        try await withClient(options, presence: true, setUp: { $0.add(chat) }) { client in
            let incoming = Task {
                for await message in chat.messages where message.from.bare == peer.bare {
                    print("\(message.from.bare): \(message.body)")
                }
            }
            for await line in Self.standardInputLines() where !line.isEmpty {
                try await chat.send(line, to: peer)
            }
            incoming.cancel()
        }
    }

    /// Lines of standard input, read on a thread of their own so the event loops never block.
    static func standardInputLines() -> AsyncStream<String> {
        AsyncStream { continuation in
            Thread.detachNewThread {
                while let line = readLine() { continuation.yield(line) }
                continuation.finish()
            }
        }
    }
}
