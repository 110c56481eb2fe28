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
    public var options: [ConfigOption] { [Self.limit] }

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let limit: Int = host.option(Self.limit)
        host.addServerFeature("msgoffline")
        host.onMessageToOfflineAccount(priority: .fallback) { event in
            await Self.store(event, limit: limit)
        }
        host.onInitialPresence { session, kernel in
            await Self.deliverStored(to: session, kernel: kernel)
        }
        host.onAccountDeleted { user, kernel in
            try await kernel.storage.offline.removeAll(for: user)
        }
    }

    /// Stores a message for an offline account, or bounces it when the store is full.
    static func store(_ event: MessageEvent, limit: Int) async -> HookOutcome {
        let kernel = event.kernel
        guard let user = event.to.localpart, event.type == .chat || event.type == .normal else { return .pass }
        // A chat state alone is not worth keeping (XEP-0160 §3): dropped, not bounced.
        guard isWorthStoring(event.element) else { return .handled }
        var stamped = event.element
        stamped.append(Delay(stamp: Date(), from: kernel.domainJID).element)
        do {
            if try await !kernel.storage.offline.store(stamped, for: user, limit: limit) {
                kernel.bounceToSender(event.element, StanzaError(.serviceUnavailable, text: "the recipient's offline storage is full"))
            }
        } catch {
            kernel.logger.error("offline storage failed", metadata: ["user": "\(user)", "error": "\(error)"])
            kernel.bounceToSender(event.element, StanzaError(.internalServerError))
        }
        return .handled
    }

    /// Chat-state notifications alone (XEP-0085) are not worth keeping for later; everything else is.
    static func isWorthStoring(_ element: Element) -> Bool {
        element.elements.contains { $0.namespace != "http://jabber.org/protocol/chatstates" }
    }

    /// Hands an account's stored messages to a session that just became available.
    static func deliverStored(to session: any ClientSession, kernel: ServerKernel) async {
        guard let user = session.jid.localpart else { return }
        do {
            let messages = try await kernel.storage.offline.takeAll(for: user)
            guard kernel.registry.entry(session.jid)?.session === session else {
                // The session ended while the messages were read: keep them for the next one.
                for message in messages {
                    _ = try await kernel.storage.offline.store(message, for: user, limit: .max)
                }
                return
            }
            // Through the filters again: a block may have come in since the message was stored.
            for message in messages {
                if let message = kernel.filterInbound(message, to: session.jid) { session.deliver(message) }
            }
        } catch {
            kernel.logger.error("offline retrieval failed", metadata: ["user": "\(user)", "error": "\(error)"])
        }
    }
}
