import Foundation
import Logging
import XMPPCore

/// Offline messages (XEP-0160): a chat or normal message to an account with no available resource is stored with a
/// delay stamp (XEP-0203) and delivered when the account next sends available presence. A full store bounces the
/// message with `service-unavailable`; a message that is only a chat state is not worth keeping.
public struct OfflineModule: ServerModule {
    public let name = "offline"
    public let specifications = ["XEP-0160 1.0.1", "XEP-0203 2.0"]

    /// `offline_limit`: most messages kept per account.
    public static let limit = ConfigOption.integer(
        "offline_limit", default: 500, range: 0...100_000,
        "most offline messages kept per account; more bounce with service-unavailable")
    /// `offline_max_bytes`: most bytes of messages kept per account.
    public static let byteLimit = ConfigOption.integer(
        "offline_max_bytes", default: 10_485_760, range: 1024...1_073_741_824,
        "most bytes of offline messages kept per account (as stored); a message past it bounces with service-unavailable")
    public var options: [ConfigOption] { [Self.limit, Self.byteLimit] }

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let limits = (count: host.option(Self.limit) as Int, bytes: host.option(Self.byteLimit) as Int)
        // Accounts whose stored messages are being delivered now: a second session coming online at the same time
        // does not get them twice.
        let deliveries = OfflineDeliveries()
        host.addServerFeature("msgoffline")
        // The offline queues' sizes for operators (`/metrics`, `xmppctl stats`, the admin console).
        host.addStatistic("offline_accounts") { kernel in kernel.storage.offline.queueFigures?.accounts ?? 0 }
        host.addStatistic("offline_messages") { kernel in kernel.storage.offline.queueFigures?.messages ?? 0 }
        host.onMessageToOfflineAccount(priority: .fallback) { event in
            let outcome = await Self.store(event, limits: limits)
            // The account may have come online while the message was being stored, after its session read the store:
            // then it is delivered now rather than at the next login. On a cluster, it may have come online on another
            // node that this one has not heard of yet: that node hears of the stored message and does the same.
            if let user = event.to.localpart {
                if Self.availableSession(of: event.to.bare, kernel: event.kernel) != nil {
                    await deliveries.run(for: user) { await Self.deliverStoredToAvailable(event.to.bare, kernel: event.kernel) }
                }
                event.kernel.announceAccountDataChange(user, topic: Self.clusterTopic)
            }
            return outcome
        }
        host.onAccountDataChanged { user, topic, kernel in
            guard topic == Self.clusterTopic, let account = try? JID(localpart: user, domainpart: kernel.configuration.domain),
                  Self.availableSession(of: account, kernel: kernel) != nil else { return }
            kernel.startBackgroundTask {
                await deliveries.run(for: user) { await Self.deliverStoredToAvailable(account, kernel: kernel) }
            }
        }
        host.onInitialPresence { session, kernel in
            guard let user = session.jid.localpart else { return }
            // The first pass to the session that came online; any further pass to whichever session is available then
            // (this one may have ended, another may have come online and asked).
            var first = true
            await deliveries.run(for: user) {
                if first {
                    first = false
                    await Self.deliverStored(to: session, kernel: kernel)
                } else {
                    await Self.deliverStoredToAvailable(session.jid.bare, kernel: kernel)
                }
            }
        }
        host.onAccountDeleted { user, kernel in
            try await kernel.storage.offline.removeAll(for: user)
        }
    }

    /// Stores a message for an offline account, or bounces it when the store is full.
    static func store(_ event: MessageEvent, limits: (count: Int, bytes: Int)) async -> HookOutcome {
        let kernel = event.kernel
        guard let user = event.to.localpart, event.type == .chat || event.type == .normal else { return .pass }
        // A chat state alone is not worth keeping (XEP-0160 §3): dropped, not bounced.
        guard isWorthStoring(event.element) else { return .handled }
        var stamped = event.element
        stamped.append(Delay(stamp: Date(), from: kernel.domainJID).element)
        do {
            if try await !kernel.storage.offline.store(stamped, for: user, limit: limits.count, byteLimit: limits.bytes) {
                kernel.logger.notice("offline message bounced: storage full", metadata: ["user": "\(user)"])
                kernel.bounceToSender(event.element, StanzaError(.serviceUnavailable, text: "the recipient's offline storage is full"))
            }
        } catch {
            kernel.logger.error("offline storage failed", metadata: ["user": "\(user)", "error": "\(error)"])
            kernel.bounceToSender(event.element, StanzaError(.internalServerError))
        }
        return .handled
    }

    /// Delivers the stored messages of `account` to one of its available sessions, if it has one.
    static func deliverStoredToAvailable(_ account: JID, kernel: ServerKernel) async {
        guard let session = availableSession(of: account, kernel: kernel) else { return }
        await deliverStored(to: session, kernel: kernel)
    }

    /// A session of `account` on this node that receives messages to the bare JID: available, with a non-negative
    /// priority (on a cluster, each node delivers to its own sessions).
    static func availableSession(of account: JID, kernel: ServerKernel) -> (any ClientSession)? {
        kernel.registry.entries(of: account).first { $0.isAvailable && $0.priority >= 0 && $0.session.clusterNode == nil }?.session
    }

    /// The topic under which cluster nodes hear that a message was stored for an account.
    static let clusterTopic = "offline"

    /// Chat-state notifications alone (XEP-0085) are not worth keeping for later; everything else is.
    static func isWorthStoring(_ element: Element) -> Bool {
        element.elements.contains { $0.namespace != "http://jabber.org/protocol/chatstates" }
    }

    /// Hands an account's stored messages to a session that just became available, and removes them from storage
    /// once they are written to its connection (a session that dies first leaves them for the next one).
    static func deliverStored(to session: any ClientSession, kernel: ServerKernel) async {
        guard let user = session.jid.localpart else { return }
        do {
            let pending = try await kernel.storage.offline.pending(for: user)
            guard !pending.isEmpty, kernel.registry.entry(session.jid)?.session === session else { return }
            // In chunks, each removed once written: a slow link never has the whole queue buffered (it stays far
            // below max_outbound_bytes), and a session that dies midway leaves only the rest for next time.
            for chunk in chunks(of: pending, bytes: chunkBytes) {
                // Through the filters again: a block may have come in since a message was stored. What they stop is
                // answered by them and removed with the rest.
                let messages = chunk.compactMap { kernel.filterInbound($0.element, to: session.jid, redelivery: true) }
                guard await session.deliverConfirmed(messages) else {
                    kernel.logger.notice("offline messages kept: the session ended during delivery", metadata: ["user": "\(user)"])
                    return
                }
                try await kernel.storage.offline.remove(chunk.map(\.id), for: user)
            }
        } catch {
            kernel.logger.error("offline delivery failed", metadata: ["user": "\(user)", "error": "\(error)"])
        }
    }
}

/// Bytes of stored messages written to a session at once during offline delivery.
let chunkBytes = 65_536

/// `messages` in runs of at most `bytes` bytes (a longer message alone), in order.
func chunks(of messages: [OfflineMessage], bytes: Int) -> [[OfflineMessage]] {
    var chunks: [[OfflineMessage]] = []
    var current: [OfflineMessage] = []
    var size = 0
    for message in messages {
        let length = message.element.xmlString.utf8.count
        if !current.isEmpty && size + length > bytes {
            chunks.append(current)
            (current, size) = ([], 0)
        }
        current.append(message)
        size += length
    }
    if !current.isEmpty { chunks.append(current) }
    return chunks
}

/// One delivery of stored messages at a time per account, and one more pass whenever something asked for a delivery
/// while one was running: a second session coming online, or a message stored after the running pass read the store,
/// is never left waiting for the next login.
final class OfflineDeliveries: Sendable {
    /// Accounts with a delivery running, and whether another pass was asked for meanwhile.
    private let running = Locked<[String: Bool]>([:])

    /// Runs `deliver` for `user` now and again while more passes are asked for; or, when a delivery is already running,
    /// asks it for one more pass and returns.
    func run(for user: String, _ deliver: () async -> Void) async {
        let starts = running.withLock { running -> Bool in
            guard running[user] == nil else {
                running[user] = true
                return false
            }
            running[user] = false
            return true
        }
        guard starts else { return }
        repeat {
            await deliver()
        } while running.withLock { running -> Bool in
            if running[user] == true {
                running[user] = false
                return true
            }
            running[user] = nil
            return false
        }
    }
}
