import Logging
import Foundation
import NIOCore
import XMPPCore

// Message delivery (RFC 6121 §8.5): full and bare JIDs, priorities, each message type. What cannot be delivered
// now goes to the message hooks (the offline module stores it, XEP-0160) or bounces.
extension ServerKernel {
    func routeMessage(_ element: Element, to: JID, from session: any ClientSession) -> EventLoopFuture<Void>? {
        guard isLocal(to) else {
            var addressed = element
            addressed.setAttribute("to", to: to.description)
            if !sendRemote(addressed, to: to) { bounce(element, Self.noFederation, to: session) }
            return nil
        }
        guard to.localpart != nil else {
            // Messages to the server itself: nothing here consumes them.
            if element.attribute("type") != "headline" { bounce(element, StanzaError(.serviceUnavailable), to: session) }
            return nil
        }
        var addressed = element
        addressed.setAttribute("to", to: to.description)
        return deliverMessage(addressed, to: to, from: session.jid, eventLoop: session.eventLoop)
    }

    /// Delivers a message to a local account, or hands it to the undeliverable-message hooks, or bounces it; `nil`
    /// when done synchronously.
    /// `from` is the sender when the caller knows it.
    func deliverMessage(_ element: Element, to: JID, from sender: JID? = nil, eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        let type = Message(element: element)?.type ?? .normal
        if to.isFull, let entry = registry.entry(to) {
            guard let element = filterInbound(element, to: to, from: sender) else { return nil }
            entry.session.deliver(element)
            if !hooks.deliveredMessage.isEmpty { messageDelivered(element, to: to, kind: .toFullJID, recipients: [entry.session]) }
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
                guard let element = filterInbound(element, to: to, from: sender) else { return nil }
                for entry in recipients { entry.session.deliver(element) }
                if !hooks.deliveredMessage.isEmpty {
                    messageDelivered(element, to: to, kind: .toBareJID, recipients: recipients.map(\.session))
                }
                return nil
            }
            if type == .headline { return nil }
            return run(on: eventLoop) { await self.messageUndeliverable(element, to: to) }
        }
    }
}
