import Foundation
import XMPPCore

// What becomes of stanzas a session was sent but never acknowledged (XEP-0198 §4), once the session ends for good:
// nothing the server accepted is lost.
extension ServerKernel {
    /// Handles the stanzas `session` was sent and did not acknowledge, after the session ended (call once
    /// ``sessionEnded(_:reason:)`` is done). Messages for the user go to the user's other available resources, or to
    /// offline storage (or bounce when it is full), stamped with when they first arrived (XEP-0203). A message to the
    /// bare JID may reach a resource that had it already (one that came online later did not): a copy clients drop by
    /// its stanza id is better than a loss. IQ requests are answered with
    /// `recipient-unavailable`. Presence, errors, room messages, carbons and archive results are dropped: they are
    /// re-sent by their source, or the client asks again.
    public func handleUndelivered(_ elements: [Element], of session: any ClientSession) async {
        let user = session.jid.bare
        for element in elements {
            switch element.name {
            case "iq":
                if let type = element.attribute("type"), type == "get" || type == "set" {
                    bounceToSender(element, StanzaError(.recipientUnavailable, text: "the session ended before the request was read"))
                }
            case "message":
                await rerouteUndelivered(element, of: session, user: user)
            default:
                continue
            }
        }
    }

    private func rerouteUndelivered(_ element: Element, of session: any ClientSession, user: JID) async {
        switch element.attribute("type") {
        case nil, "chat", "normal": break
        default: return
        }
        // Made by the server for this session alone (carbon copies, archive results): the originals are elsewhere.
        if let from = element.attribute("from").flatMap({ JID(validating: $0) }), from == user { return }
        if element.attribute("from") == nil || element.child("result", namespace: "urn:xmpp:mam:2") != nil { return }
        var message = element
        if Delay(in: message) == nil { message.append(Delay(stamp: Date(), from: domainJID).element) }
        let others = registry.entries(of: user).filter { $0.session !== session && $0.isAvailable && $0.priority >= 0 }
        if others.isEmpty {
            await messageUndeliverable(message, to: user, redelivery: true)
        } else {
            for entry in others {
                if let filtered = filterInbound(message, to: entry.session.jid, redelivery: true) { entry.session.deliver(filtered) }
            }
        }
    }
}
