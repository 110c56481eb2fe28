import ArgumentParser
import Foundation
import XMPPClient
import XMPPCore

struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with one contact: the last messages from the server's archive first, then incoming messages as they arrive (and what your other clients send); typed lines are sent; end with EOF (Ctrl-D).")
    @OptionGroup var options: ConnectionOptions
    @Argument(help: "The contact's JID.") var contact: String
    @Option(help: "How many earlier messages to show first (from the server's archive, when it keeps one).") var last: Int = 10

    func run() async throws {
        let peer = try parseJID(contact)
        let chat = ChatModule()
        let archive = MessageArchiveModule(synchronizesWithServer: false)
        try await withClient(options, presence: true, setUp: { $0.add(chat); $0.add(archive) }) { client in
            let incoming = Task {
                for await message in chat.messages {
                    if message.isOutgoing, message.to.bare == peer.bare {
                        print("\(message.from.bare) (other client): \(message.body)")
                    } else if !message.isOutgoing, message.from.bare == peer.bare {
                        print("\(message.from.bare): \(message.body)")
                    }
                }
            }
            if last > 0, let page = try? await archive.queryServer(with: peer.bare, before: "", max: last) {
                for message in page.messages {
                    if let line = History.line(for: message, account: client.configuration.jid) { print(line) }
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
