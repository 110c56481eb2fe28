import XMPPCore
import XMPPServerKernel

// IQs to an occupant's room JID (XEP-0045, business rules for IQ): the room passes the request on to the occupant
// under the sender's room JID and a fresh id, and passes the reply back; neither side learns the other's real JID.
// vCard requests go to the occupant's account, which the server answers (XEP-0153 avatars in rooms).
extension Room {
    /// A request passed on to an occupant, waiting for its reply.
    struct ForwardedIQ: Sendable {
        /// The real full JID of whoever asked.
        var requester: JID
        /// The id the requester gave the request.
        var id: String?
        /// Where the request went: the occupant's session, or its account for vCards.
        var responder: JID
        /// The occupant's nickname when asked, the `from` of the reply.
        var responderNickname: String
    }

    /// The most requests a room keeps waiting for replies; older ones are forgotten (their replies dropped).
    static let maxForwardedIQs = 256

    /// Passes a request from an occupant on to the occupant `nickname`.
    mutating func forwardIQ(_ element: Element, iq: IQ, from sender: JID, to nickname: String,
                            effects: inout RoomEffects) throws(StanzaError) {
        guard let requester = occupant(of: sender) else {
            throw StanzaError(.notAcceptable, text: "only occupants may send requests to occupants")
        }
        guard let target = occupants[nickname], let session = target.sessions.first else {
            throw StanzaError(.itemNotFound, text: "nobody in the room has that nickname")
        }
        let asksForVCard = iq.type == .get && iq.payload?.name == "vCard" && iq.payload?.namespace == "vcard-temp"
        let responder = asksForVCard ? target.account : session
        let id = StanzaID.make()
        forwardedIQs[id] = ForwardedIQ(requester: sender, id: element.attribute("id"), responder: responder, responderNickname: nickname)
        forwardedIQOrder.append(id)
        if forwardedIQOrder.count > Self.maxForwardedIQs { forwardedIQs[forwardedIQOrder.removeFirst()] = nil }
        var forwarded = element
        forwarded.setAttribute("from", to: occupantJID(requester.nickname).description)
        forwarded.setAttribute("id", to: id)
        effects.send(forwarded, to: responder)
    }

    /// Passes the reply to a forwarded request back to whoever asked; replies nobody waits for are dropped.
    mutating func relayIQReply(_ element: Element, from sender: JID, to nickname: String) -> RoomEffects {
        var effects = RoomEffects()
        guard let id = element.attribute("id"), let waiting = forwardedIQs[id], waiting.responder == sender else { return effects }
        forwardedIQs[id] = nil
        forwardedIQOrder.removeAll { $0 == id }
        var reply = element
        reply.setAttribute("from", to: occupantJID(waiting.responderNickname).description)
        reply.setAttribute("id", to: waiting.id)
        effects.send(reply, to: waiting.requester)
        return effects
    }
}
