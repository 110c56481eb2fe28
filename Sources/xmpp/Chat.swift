import ArgumentParser
import CommandLineSupport
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
        let live = chat.messages
        // Available only after the history is out: offline messages then arrive after it, and those it showed already
        // (the same archive id) are not shown twice.
        try await withClient(options, presence: false, setUp: { $0.add(chat); $0.add(archive) }) { client in
            var shown: Set<String> = []
            if last > 0, let page = try? await archive.queryServer(with: peer.bare, before: "", max: last) {
                for message in page.messages {
                    if let line = History.line(for: message, account: client.configuration.jid) { print(line) }
                    shown.insert(message.id)
                }
            }
            let incoming = Task { [shown] in
                for await message in live where !(message.archiveID.map(shown.contains) ?? false) {
                    if message.isOutgoing, message.to.bare == peer.bare {
                        print("\(message.from.bare) (other client): \(message.body)")
                    } else if !message.isOutgoing, message.from.bare == peer.bare {
                        print("\(message.from.bare): \(message.body)")
                    }
                }
            }
            try await client.sendPresence(Presence())
            Feedback.say("connected as \(client.jid?.description ?? ""); chatting with \(peer) (type a line to send it, Ctrl-D to end)")
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
