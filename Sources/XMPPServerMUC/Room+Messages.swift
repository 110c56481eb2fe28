import Foundation
import XMPPCore
import XMPPServerKernel

// Groupchat messages, the subject, private messages, invitations and history (XEP-0045 §7.2.14, §7.4, §7.5,
// §7.8, §8.1).
extension Room {
    /// Handles a message from `sender` to the room (`nickname` nil) or to an occupant.
    public mutating func receiveMessage(_ element: Element, from sender: JID, nickname: String?, now: Date) -> RoomEffects {
        var effects = RoomEffects()
        let type = Message(element: element)?.type ?? .normal
        if type == .error {
            // A bounce from an occupant's client: it is gone (§7.14 lets the service remove it), with 333 for the
            // technical reason (and 307 for clients that know only kicks).
            if let current = occupant(of: sender) {
                remove(current.nickname, status: .kicked, also: .technicalProblem, actor: nil, reason: "your client returned an error",
                       effects: &effects)
            }
            return effects
        }
        if let nickname {
            privateMessage(element, type: type, from: sender, to: nickname, effects: &effects)
        } else if type == .groupchat {
            groupchat(element, from: sender, now: now, effects: &effects)
        } else if let form = Self.voiceRequestForm(in: element) {
            voiceRequest(element, form: form, from: sender, effects: &effects)
        } else if let x = element.child("x", namespace: MUCNamespace.user),
                  x.child("invite", namespace: MUCNamespace.user) != nil || x.child("decline", namespace: MUCNamespace.user) != nil {
            invitations(element, x, from: sender, effects: &effects)
        } else {
            effects.fail(element, StanzaError(.badRequest, text: "send groupchat messages to the room"), from: jid, to: sender)
        }
        return effects
    }

    // MARK: Groupchat

    private mutating func groupchat(_ element: Element, from sender: JID, now: Date, effects: inout RoomEffects) {
        guard let speaker = occupant(of: sender) else {
            effects.fail(element, StanzaError(.notAcceptable, text: "only occupants may send messages to the room"), from: jid, to: sender)
            return
        }
        let subjectLine = element.child("subject", namespace: element.namespace)
        let isSubjectChange = subjectLine != nil && element.child("body", namespace: element.namespace) == nil
        if isSubjectChange {
            let allowed = speaker.role == .moderator || (configuration.participantsMayChangeSubject && speaker.role >= .participant)
            guard allowed else {
                effects.fail(element, StanzaError(.forbidden, text: "you may not change the subject"), from: jid, to: sender)
                return
            }
        } else if speaker.role < .participant {
            effects.fail(element, StanzaError(.forbidden, text: "visitors may not speak in a moderated room"), from: jid, to: sender)
            return
        }
        var reflected = element
        reflected.setAttribute("from", to: occupantJID(speaker.nickname).description)
        reflected.setAttribute("to", to: nil)
        // Only the room may say what its stanza IDs are (XEP-0359 §3).
        reflected.children.removeAll { node in
            if case .element(let child) = node {
                child.name == "stanza-id" && child.namespace == StanzaIdentifier.namespace && child.attribute("by") == jid.description
            } else { false }
        }
        stampOccupantID(&reflected, account: speaker.account)
        let stanzaID = StanzaID.make()
        reflected.append(StanzaIdentifier(id: stanzaID, by: jid).element)
        for occupant in occupants.values {
            for session in occupant.sessions { effects.send(reflected, to: session) }
        }
        if isSubjectChange {
            subject = Subject(text: subjectLine!.text, nickname: speaker.nickname)
            effects.storedStateChanged = true
        } else if element.child("body", namespace: element.namespace) != nil {
            remember(reflected, at: now)
            effects.archive.append(ArchivedStanza(id: stanzaID, timestamp: now, with: occupantJID(speaker.nickname), element: reflected))
        }
    }

    private mutating func remember(_ message: Element, at date: Date) {
        guard configuration.historyLength > 0 else { return }
        history.append(HistoryEntry(message: message, date: date, characters: message.xmlString.utf8.count))
        let excess = history.count - min(configuration.historyLength, limits.maxHistoryLength)
        if excess > 0 { history.removeFirst(excess) }
        // Bounded in bytes too: a hundred stanzas of the largest size would be 25 MiB for one room.
        var bytes = history.reduce(0) { $0 + $1.characters }
        while bytes > limits.maxHistoryBytes, let oldest = history.first {
            bytes -= oldest.characters
            history.removeFirst()
        }
    }

    /// The history a newcomer asked for with `<history/>` (maxstanzas, maxchars, seconds, since), stamped with
    /// when the room received each message (XEP-0203).
    func history(for request: Element?, now: Date) -> [Element] {
        var entries = history[...]
        if let seconds = request?.attribute("seconds").flatMap(Int.init) {
            entries = entries.drop { now.timeIntervalSince($0.date) > Double(seconds) }
        }
        if let since = request?.attribute("since").flatMap({ try? Date($0, strategy: .iso8601) }) {
            entries = entries.drop { $0.date < since }
        }
        if let count = request?.attribute("maxstanzas").flatMap(Int.init) {
            entries = entries.suffix(max(count, 0))
        }
        if let limit = request?.attribute("maxchars").flatMap(Int.init) {
            var total = 0
            var kept = 0
            for entry in entries.reversed() {
                total += entry.characters
                if total > limit { break }
                kept += 1
            }
            entries = entries.suffix(kept)
        }
        return entries.map { entry in
            var message = entry.message
            message.append(Delay(stamp: entry.date, from: jid).element)
            return message
        }
    }

    // MARK: Private messages

    private mutating func privateMessage(_ element: Element, type: Message.MessageType, from sender: JID, to nickname: String,
                                         effects: inout RoomEffects) {
        let target = occupantJID(nickname)
        guard let speaker = occupant(of: sender) else {
            effects.fail(element, StanzaError(.notAcceptable, text: "only occupants may send private messages"), from: target, to: sender)
            return
        }
        guard type != .groupchat else {
            effects.fail(element, StanzaError(.badRequest, text: "groupchat messages go to the room"), from: target, to: sender)
            return
        }
        guard let recipient = occupants[nickname] else {
            effects.fail(element, StanzaError(.itemNotFound, text: "no such occupant"), from: target, to: sender)
            return
        }
        let allowed = switch configuration.privateMessages {
        case .anyone: true
        case .participants: speaker.role >= .participant
        case .moderators: speaker.role == .moderator
        case .none: false
        }
        guard allowed else {
            effects.fail(element, StanzaError(.forbidden, text: "private messages are not allowed here"), from: target, to: sender)
            return
        }
        var forwarded = element
        forwarded.setAttribute("from", to: occupantJID(speaker.nickname).description)
        if forwarded.child("x", namespace: MUCNamespace.user) == nil {
            forwarded.append(Element("x", namespace: MUCNamespace.user))
        }
        stampOccupantID(&forwarded, account: speaker.account)
        for session in recipient.sessions { effects.send(forwarded, to: session) }
    }

    // MARK: Invitations

    private mutating func invitations(_ element: Element, _ x: Element, from sender: JID, effects: inout RoomEffects) {
        for decline in x.children("decline", namespace: MUCNamespace.user) {
            // Relayed only to someone who invited the decliner: the room is no relay for messages to anyone.
            guard let inviter = decline.attribute("to").flatMap({ JID(validating: $0) }),
                  pendingInvitations[sender.bare]?.contains(inviter.bare) == true else { continue }
            pendingInvitations[sender.bare]?.remove(inviter.bare)
            var notice = Element("decline", namespace: MUCNamespace.user, attributes: ["from": sender.bare.description])
            if let reason = decline.child("reason", namespace: MUCNamespace.user) { notice.append(reason) }
            effects.send(Element("message", namespace: XMLNamespace.client, attributes: ["from": jid.description], children: [
                .element(Element("x", namespace: MUCNamespace.user, children: [.element(notice)])),
            ]), to: inviter)
        }
        let invites = x.children("invite", namespace: MUCNamespace.user)
        guard !invites.isEmpty else { return }
        guard let inviter = occupant(of: sender) else {
            effects.fail(element, StanzaError(.notAcceptable, text: "only occupants may invite"), from: jid, to: sender)
            return
        }
        let inviterAffiliation = affiliation(of: sender)
        if configuration.isMembersOnly && !configuration.allowsInvitations && inviterAffiliation < .admin {
            effects.fail(element, StanzaError(.forbidden, text: "only admins and owners may invite to this room"), from: jid, to: sender)
            return
        }
        for invite in invites {
            guard let invitee = invite.attribute("to").flatMap({ JID(validating: $0) }) else {
                effects.fail(element, StanzaError(.jidMalformed, text: "an invitation needs a valid 'to'"), from: jid, to: sender)
                return
            }
            if configuration.isMembersOnly && affiliation(of: invitee) == .none {
                guard affiliations.count < limits.maxAffiliations else {
                    effects.fail(element, StanzaError(.resourceConstraint, text: "the room has too many members"), from: jid, to: sender)
                    return
                }
                affiliations[invitee.bare] = .member
                effects.storedStateChanged = true
            }
            rememberInvitation(of: invitee.bare, by: inviter.account)
            var notice = Element("invite", namespace: MUCNamespace.user, attributes: ["from": inviter.account.description])
            let reason = invite.child("reason", namespace: MUCNamespace.user)
            if let reason { notice.append(reason) }
            var payload = Element("x", namespace: MUCNamespace.user, children: [.element(notice)])
            // The password goes with invitations from those who may change it, not from any occupant.
            if let password = configuration.password, inviterAffiliation >= .admin {
                payload.append(Element("password", namespace: MUCNamespace.user, text: password))
            }
            var message = Element("message", namespace: XMLNamespace.client, attributes: ["from": jid.description])
            message.setAttribute("id", to: element.attribute("id"))
            message.append(payload)
            let text = "\(inviter.account) invites you to the room \(jid)" + (reason.map { ": \($0.text)" } ?? "")
            message.append(Element("body", namespace: XMLNamespace.client, text: text))
            effects.send(message, to: invitee)
        }
    }

    /// Remembers that `inviter` invited `invitee`, so the invitee's decline may reach the inviter; at most 256
    /// outstanding invitations per room, the oldest forgotten first.
    private mutating func rememberInvitation(of invitee: JID, by inviter: JID) {
        pendingInvitations[invitee, default: []].insert(inviter)
        invitationOrder.append(invitee)
        while invitationOrder.count > 256 {
            let forgotten = invitationOrder.removeFirst()
            if !invitationOrder.contains(forgotten) { pendingInvitations[forgotten] = nil }
        }
    }
}
