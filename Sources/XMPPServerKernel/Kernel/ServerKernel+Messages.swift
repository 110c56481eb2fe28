import Logging
import Foundation
import NIOCore
import XMPPCore

// Message delivery (RFC 6121 §8.5): full and bare JIDs, priorities, each message type, offline storage
// (XEP-0160) with delay stamps (XEP-0203), and bounces for unknown users.
extension ServerKernel {
    func routeMessage(_ element: Element, to: JID, from session: any ClientSession) -> EventLoopFuture<Void>? {
        guard isLocal(to) else {
            bounce(element, StanzaError(.remoteServerNotFound, text: "this server does not federate yet"), to: session)
            return nil
        }
        guard to.localpart != nil else {
            // Messages to the server itself: nothing here consumes them.
            if element.attribute("type") != "headline" { bounce(element, StanzaError(.serviceUnavailable), to: session) }
            return nil
        }
        var addressed = element
        addressed.setAttribute("to", to: to.description)
        return deliverMessage(addressed, to: to, eventLoop: session.eventLoop)
    }

    /// Delivers a message to a local account, or stores it, or bounces it; `nil` when done synchronously.
    func deliverMessage(_ element: Element, to: JID, eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        let type = Message(element: element)?.type ?? .normal
        if to.isFull, let entry = registry.entry(to) {
            entry.session.deliver(element)
            return nil
        }
        if to.isFull && (type == .groupchat) {
            bounceToSender(element, StanzaError(.serviceUnavailable))
            return nil
        }
        if to.isFull && (type == .headline || type == .error) { return nil }
        // To a bare JID, or to an offline full JID treated as bare (RFC 6121 §8.5.3.2.1).
        let recipients = registry.entries(of: to.bare).filter { $0.isAvailable && $0.priority >= 0 }
        switch type {
        case .error:
            return nil
        case .groupchat:
            bounceToSender(element, StanzaError(.serviceUnavailable))
            return nil
        case .headline, .chat, .normal:
            if !recipients.isEmpty {
                for entry in recipients { entry.session.deliver(element) }
                return nil
            }
            if type == .headline { return nil }
            return run(on: eventLoop) { await self.storeOffline(element, for: to) }
        }
    }

    /// Stores a message for an offline account with a delay stamp, or bounces it.
    func storeOffline(_ element: Element, for to: JID) async {
        guard let user = to.localpart else { return }
        do {
            guard try await storage.accounts.accountExists(user) else {
                bounceToSender(element, StanzaError(.serviceUnavailable))
                return
            }
            guard Self.isWorthStoring(element) else { return }
            var stamped = element
            stamped.append(Self.delayElement(from: domainJID, at: Date()))
            if try await !storage.offline.store(stamped, for: user, limit: configuration.offlineMessageLimit) {
                bounceToSender(element, StanzaError(.serviceUnavailable, text: "the recipient's offline storage is full"))
            }
        } catch {
            logger.error("offline storage failed", metadata: ["user": "\(user)", "error": "\(error)"])
            bounceToSender(element, StanzaError(.internalServerError))
        }
    }

    /// Chat-state notifications alone (XEP-0085) are not worth keeping for later; everything else is.
    static func isWorthStoring(_ element: Element) -> Bool {
        element.elements.contains { $0.namespace != "http://jabber.org/protocol/chatstates" }
    }

    /// A XEP-0203 `<delay/>` element.
    static func delayElement(from: JID, at date: Date) -> Element {
        Element("delay", namespace: "urn:xmpp:delay",
                attributes: ["from": from.description, "stamp": date.formatted(.iso8601)])
    }

    /// Hands an account's stored messages to a session that just became available.
    func deliverOfflineMessages(to session: any ClientSession) async {
        guard let user = session.jid.localpart else { return }
        do {
            let messages = try await storage.offline.takeAll(for: user)
            guard registry.entry(session.jid)?.session === session else {
                // The session ended while the messages were read: keep them for the next one.
                for message in messages {
                    _ = try await storage.offline.store(message, for: user, limit: .max)
                }
                return
            }
            for message in messages { session.deliver(message) }
        } catch {
            logger.error("offline retrieval failed", metadata: ["user": "\(user)", "error": "\(error)"])
        }
    }
}
