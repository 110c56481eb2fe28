import ArgumentParser
import CommandLineSupport
import Foundation
import XMPPClient
import XMPPCore

struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with one contact: the last messages from the server's archive first, then incoming messages as they arrive (and what your other clients send); typed lines are sent; end with EOF (Ctrl-D).",
        discussion: """
            What you send is marked as it gets there: [delivered] when the contact's client has it, [read] when it was \
            displayed, [failed: condition] when it came back. What is shown is marked read, here and in `xmpp conversations`.
            """)
    @OptionGroup var options: ConnectionOptions
    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "The contact's JID.") var contact: String
    @Option(help: "How many earlier messages to show first (from the server's archive, when it keeps one).") var last: Int = 10

    func run() async throws {
        let peer = try parseJID(contact)
        let store = try storeOptions.open(for: try options.credentials().jid)
        let chat = ChatModule(outbox: store)
        let archive = MessageArchiveModule(storage: store, synchronizesWithServer: false)
        let live = chat.messages
        let ticks = chat.deliveryUpdates
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
            archive.markRead(peer)
            let incoming = Task { [shown] in
                for await message in live where !(message.archiveID.map(shown.contains) ?? false) {
                    if message.isOutgoing, message.to.bare == peer.bare {
                        print("\(message.from.bare) (other client): \(message.body)")
                    } else if !message.isOutgoing, message.from.bare == peer.bare {
                        print("\(message.from.bare): \(message.body)")
                        try? await chat.markDisplayed(message)
                        archive.markRead(peer)
                    }
                }
            }
            let sent = SentLines()
            let marks = Task {
                for await update in ticks {
                    guard let text = sent.record(update.messageID, status: update.status), let mark = Self.mark(update.status) else { continue }
                    Feedback.say("[\(mark)] \(text)")
                }
            }
            try await client.sendPresence(Presence())
            Feedback.say("connected as \(client.jid?.description ?? ""); chatting with \(peer) (type a line to send it, Ctrl-D to end)")
            for await line in Self.standardInputLines() where !line.isEmpty {
                let id = try await chat.send(line, to: peer)
                // On loopback a receipt can come before `send` returns: it was kept, and shows now.
                for status in sent.add(id, text: line) { if let mark = Self.mark(status) { Feedback.say("[\(mark)] \(line)") } }
            }
            // A moment for the last lines' receipts, so a script sees them marked.
            for _ in 0..<20 where !sent.allDelivered { try? await Task.sleep(for: .milliseconds(100)) }
            incoming.cancel()
            marks.cancel()
            await archive.flushStorage()
        }
    }

    /// The mark shown for a status, or nil for the ones not worth a line (sent, acknowledged).
    static func mark(_ status: DeliveryStatus) -> String? {
        switch status {
        case .queued: "queued"
        case .delivered: "delivered"
        case .read: "read"
        case .failed(let condition): "failed: \(condition)"
        case .sent, .acknowledged: nil
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

/// The lines typed in this chat, by message id, and whether each got as far as the contact.
final class SentLines: Sendable {
    private struct State {
        var lines: [String: (text: String, settled: Bool)] = [:]
        /// Statuses that came before their line was known.
        var early: [String: [DeliveryStatus]] = [:]
    }

    private let state = Locked(State())

    /// Remembers line `id`; returns the statuses that came for it already.
    func add(_ id: String, text: String) -> [DeliveryStatus] {
        state.withLock { state in
            let early = state.early.removeValue(forKey: id) ?? []
            state.lines[id] = (text, early.contains { $0 >= .delivered })
            return early
        }
    }

    /// Notes a status; returns the line's text when the line is known (otherwise keeps the status for ``add(_:text:)``).
    func record(_ id: String, status: DeliveryStatus) -> String? {
        state.withLock { state in
            guard let line = state.lines[id] else {
                state.early[id, default: []].append(status)
                return nil
            }
            if status >= .delivered { state.lines[id]?.settled = true }
            return line.text
        }
    }

    /// Whether every line got as far as the contact (or failed).
    var allDelivered: Bool {
        state.withLock { $0.lines.values.allSatisfy(\.settled) }
    }
}
