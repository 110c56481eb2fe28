import Foundation
import XMPPCore
import XMPPServerKernel

// Entering, changing presence or nickname, and leaving (XEP-0045 §7.2–§7.6, §7.14).
extension Room {
    /// Handles a presence from `sender` (a local full JID) to the room or to one of its nicknames. A new room passes
    /// `created`, so the creator's self-presence carries status 201.
    public mutating func receivePresence(_ element: Element, from sender: JID, nickname: String?,
                                         created: Bool = false, now: Date) -> RoomEffects {
        var effects = RoomEffects()
        let type = Presence(element: element)?.type
        let current = occupant(of: sender)
        switch type {
        case .available?:
            guard let nickname else {
                effects.fail(element, StanzaError(.jidMalformed, text: "join with room@service/nickname"), from: jid, to: sender)
                return effects
            }
            if let current {
                if current.nickname == nickname && element.child("x", namespace: MUCNamespace.muc) != nil {
                    // An entry from a session already in: a full synchronization (XEP-0045 business rules).
                    resynchronize(element, from: sender, occupant: current, now: now, effects: &effects)
                } else if current.nickname == nickname {
                    updatePresence(element, of: current.nickname, effects: &effects)
                } else {
                    changeNickname(element, of: current, to: nickname, from: sender, effects: &effects)
                }
            } else {
                join(element, from: sender, nickname: nickname, created: created, now: now, effects: &effects)
            }
        case .unavailable?, .error?:
            // An error presence from an occupant means its client is gone (XEP-0045 §7.14).
            if let current { leave(session: sender, occupant: current, status: element.child("status", namespace: element.namespace), effects: &effects) }
        default:
            // Subscriptions and probes mean nothing to a room.
            break
        }
        return effects
    }

    // MARK: Entering

    private mutating func join(_ element: Element, from sender: JID, nickname: String, created: Bool, now: Date,
                               effects: inout RoomEffects) {
        let affiliation = affiliation(of: sender)
        let request = element.child("x", namespace: MUCNamespace.muc)
        let refusal: StanzaError? = {
            if isLocked && affiliation != .owner {
                return StanzaError(.itemNotFound, text: "the room is being created; try again once it is configured")
            }
            if affiliation == .outcast { return StanzaError(.forbidden, text: "you are banned from this room") }
            if configuration.isMembersOnly && affiliation < .member {
                return StanzaError(.registrationRequired, text: "this room is for members only")
            }
            // The password before the nickname: who is inside is nobody's business without it.
            if let password = configuration.password, affiliation != .owner,
               request?.child("password", namespace: MUCNamespace.muc)?.text != password {
                return StanzaError(.notAuthorized, text: "this room needs a password")
            }
            // Nicknames that look alike are one nickname (RFC 8266): "Alice" and "ａｌｉｃｅ " cannot both be inside.
            if let holder = holder(of: nickname), holder.account != sender.bare || holder.nickname != nickname {
                return StanzaError(.conflict, text: "that nickname is in use")
            }
            let limit = configuration.maxOccupants > 0 ? min(configuration.maxOccupants, limits.maxOccupants) : limits.maxOccupants
            if occupants[nickname] == nil && occupants.count >= limit && affiliation < .admin {
                return StanzaError(.serviceUnavailable, text: "the room is full")
            }
            return nil
        }()
        if let refusal {
            effects.fail(element, refusal, from: occupantJID(nickname), to: sender)
            return
        }
        let ownPresence = Self.cleanPresence(element)
        let isNewOccupant = occupants[nickname] == nil
        if isNewOccupant {
            occupants[nickname] = Occupant(nickname: nickname, account: sender.bare, sessions: [sender],
                                           role: defaultRole(for: affiliation), presence: ownPresence)
        } else {
            // Another session of the same account joins under its nickname.
            occupants[nickname]!.sessions.append(sender)
        }
        nicknames[sender] = nickname
        let newcomer = occupants[nickname]!

        // Others' presence first, then the newcomer's to the others, then the newcomer's own last (§7.2.3).
        if isNewOccupant {
            for other in occupants.values where other.nickname != nickname {
                for session in other.sessions { effects.send(presence(of: newcomer, for: other), to: session) }
            }
        }
        sendEntry(of: newcomer, to: sender, created: created, request: request, now: now, effects: &effects)
    }

    /// What a session gets on entering: the others' presence, its own (110 last), history and the subject.
    private func sendEntry(of newcomer: Occupant, to sender: JID, created: Bool, request: Element?, now: Date,
                           effects: inout RoomEffects) {
        for other in occupants.values where other.nickname != newcomer.nickname {
            effects.send(presence(of: other, for: newcomer), to: sender)
        }
        var statuses: [MUCStatus] = [.selfPresence]
        if configuration.realJIDsVisibleToAnyone { statuses.append(.realJIDsPublic) }
        if created { statuses.append(.created) }
        effects.send(presence(of: newcomer, for: newcomer, statuses: statuses), to: sender)

        for message in history(for: request?.child("history", namespace: MUCNamespace.muc), now: now) {
            effects.send(message, to: sender)
        }
        // The subject comes last and always, empty when there is none (§7.2.15).
        var subjectMessage = Element("message", namespace: XMLNamespace.client,
                                     attributes: ["type": "groupchat", "id": StanzaID.make()])
        subjectMessage.setAttribute("from", to: subject?.nickname.map(occupantJID)?.description ?? jid.description)
        subjectMessage.append(Element("subject", namespace: XMLNamespace.client, text: subject?.text ?? ""))
        effects.send(subjectMessage, to: sender)
    }

    /// Sends everything of an entry again to a session that is already in, and tells the others only if its
    /// presence changed.
    private mutating func resynchronize(_ element: Element, from sender: JID, occupant: Occupant, now: Date,
                                        effects: inout RoomEffects) {
        let presence = Self.cleanPresence(element)
        if presence != occupant.presence {
            occupants[occupant.nickname]!.presence = presence
            for other in occupants.values where other.nickname != occupant.nickname {
                let update = self.presence(of: occupants[occupant.nickname]!, for: other)
                for session in other.sessions { effects.send(update, to: session) }
            }
        }
        sendEntry(of: occupants[occupant.nickname]!, to: sender, created: false,
                  request: element.child("x", namespace: MUCNamespace.muc), now: now, effects: &effects)
    }

    // MARK: Changing

    private mutating func updatePresence(_ element: Element, of nickname: String, effects: inout RoomEffects) {
        occupants[nickname]!.presence = Self.cleanPresence(element)
        broadcastPresence(of: occupants[nickname]!, effects: &effects)
    }

    private mutating func changeNickname(_ element: Element, of current: Occupant, to nickname: String, from sender: JID,
                                         effects: inout RoomEffects) {
        if let holder = holder(of: nickname), holder.account != current.account || holder.nickname != current.nickname {
            effects.fail(element, StanzaError(.conflict, text: "that nickname is in use"), from: occupantJID(nickname), to: sender)
            return
        }
        guard occupants[nickname] == nil else {
            effects.fail(element, StanzaError(.notAcceptable, text: "join that nickname from this session instead"),
                         from: occupantJID(nickname), to: sender)
            return
        }
        // Everyone sees the old nickname leave with 303 and the new one's nick, then the new one arrive (§7.6).
        var renamed = current
        renamed.nickname = nickname
        renamed.presence = Self.cleanPresence(element)
        for recipient in occupants.values {
            var statuses: [MUCStatus] = [.nicknameChanged]
            if recipient.nickname == current.nickname { statuses.insert(.selfPresence, at: 0) }
            let viewer = recipient.nickname == current.nickname ? renamed : recipient
            var leaving = presence(of: current, for: viewer, statuses: statuses, unavailable: true)
            Self.modifyItem(&leaving) { $0.setAttribute("nick", to: nickname) }
            for session in recipient.sessions { effects.send(leaving, to: session) }
        }
        occupants[current.nickname] = nil
        occupants[nickname] = renamed
        for session in renamed.sessions { nicknames[session] = nickname }
        broadcastPresence(of: renamed, effects: &effects)
    }

    // MARK: Leaving

    private mutating func leave(session: JID, occupant: Occupant, status: Element?, effects: inout RoomEffects) {
        nicknames[session] = nil
        var remaining = occupant
        remaining.sessions.removeAll { $0 == session }
        var farewell = presence(of: occupant, for: occupant, statuses: [.selfPresence], unavailable: true)
        if let status { farewell.append(status) }
        guard remaining.sessions.isEmpty else {
            occupants[occupant.nickname] = remaining
            effects.send(farewell, to: session)
            return
        }
        occupants[occupant.nickname] = nil
        effects.send(farewell, to: session)
        for other in occupants.values {
            var gone = presence(of: occupant, for: other, unavailable: true)
            if let status { gone.append(status) }
            for otherSession in other.sessions { effects.send(gone, to: otherSession) }
        }
    }

    /// Empties the room because the service is shutting down: each occupant's sessions learn of their own removal
    /// (110 and 332); nobody is told of the others', as they all go at once (XEP-0045 status 332).
    mutating func shutDown() -> RoomEffects {
        var effects = RoomEffects()
        for occupant in occupants.values {
            let notice = presence(of: occupant, for: occupant, statuses: [.selfPresence, .shutdown], unavailable: true)
            for session in occupant.sessions { effects.send(notice, to: session) }
        }
        occupants = [:]
        nicknames = [:]
        return effects
    }

    /// Removes an occupant after a kick, ban or affiliation change, telling everyone why (§8.2, §9.1, §9.4).
    mutating func remove(_ nickname: String, status: MUCStatus, also extra: MUCStatus? = nil, actor: String?, reason: String?,
                         effects: inout RoomEffects) {
        guard var removed = occupants[nickname] else { return }
        removed.role = .none
        occupants[nickname] = nil
        for session in removed.sessions { nicknames[session] = nil }
        let statuses = [status] + (extra.map { [$0] } ?? [])
        var notice = presence(of: removed, for: removed, statuses: [.selfPresence] + statuses, unavailable: true)
        Self.addActorAndReason(&notice, actor: actor, reason: reason)
        for session in removed.sessions { effects.send(notice, to: session) }
        for other in occupants.values {
            var gone = presence(of: removed, for: other, statuses: statuses, unavailable: true)
            Self.addActorAndReason(&gone, actor: actor, reason: reason)
            for session in other.sessions { effects.send(gone, to: session) }
        }
    }

    // MARK: Presence stanzas

    /// Sends an occupant's current presence to everyone in the room (itself with 110).
    mutating func broadcastPresence(of occupant: Occupant, statuses: [MUCStatus] = [], effects: inout RoomEffects) {
        for recipient in occupants.values {
            var recipientStatuses = statuses
            if recipient.nickname == occupant.nickname { recipientStatuses.insert(.selfPresence, at: 0) }
            let stanza = presence(of: occupant, for: recipient, statuses: recipientStatuses)
            for session in recipient.sessions { effects.send(stanza, to: session) }
        }
    }

    /// The presence of `occupant` as `recipient` sees it: from the occupant's room JID, with its affiliation and
    /// role, its real JID when the recipient may see it, and status codes.
    func presence(of occupant: Occupant, for recipient: Occupant, statuses: [MUCStatus] = [], unavailable: Bool = false) -> Element {
        var stanza: Element
        if unavailable {
            stanza = Element("presence", namespace: XMLNamespace.client, attributes: ["type": "unavailable"])
        } else {
            stanza = occupant.presence
        }
        stanza.setAttribute("from", to: occupantJID(occupant.nickname).description)
        var item = Element("item", namespace: MUCNamespace.user, attributes: [
            "affiliation": affiliation(of: occupant.account).rawValue, "role": (unavailable ? MUCRole.none : occupant.role).rawValue,
        ])
        if seesRealJIDs(recipient) || recipient.account == occupant.account {
            item.setAttribute("jid", to: (occupant.sessions.first ?? occupant.account).description)
        }
        var x = Element("x", namespace: MUCNamespace.user)
        x.append(item)
        for status in statuses { x.append(status.element) }
        stanza.append(x)
        stampOccupantID(&stanza, account: occupant.account)
        return stanza
    }

    /// Changes the `<item/>` of a presence's muc#user payload.
    static func modifyItem(_ presence: inout Element, _ change: (inout Element) -> Void) {
        func isUserPayload(_ node: Node) -> Bool {
            if case .element(let element) = node { element.name == "x" && element.namespace == MUCNamespace.user } else { false }
        }
        func isItem(_ node: Node) -> Bool {
            if case .element(let element) = node { element.name == "item" } else { false }
        }
        guard let index = presence.children.firstIndex(where: isUserPayload), case .element(var x) = presence.children[index],
              let itemIndex = x.children.firstIndex(where: isItem), case .element(var item) = x.children[itemIndex] else { return }
        change(&item)
        x.children[itemIndex] = .element(item)
        presence.children[index] = .element(x)
    }

    static func addActorAndReason(_ presence: inout Element, actor: String?, reason: String?) {
        modifyItem(&presence) { item in
            if let actor { item.append(Element("actor", namespace: MUCNamespace.user, attributes: ["nick": actor])) }
            if let reason { item.append(Element("reason", namespace: MUCNamespace.user, text: reason)) }
        }
    }

    /// A user's presence reduced to what occupants may see: show, status, priority and other extensions, without
    /// addressing, id or MUC payloads.
    static func cleanPresence(_ element: Element) -> Element {
        var presence = Element("presence", namespace: XMLNamespace.client)
        for child in element.elements where child.namespace != MUCNamespace.muc && child.namespace != MUCNamespace.user {
            presence.append(child)
        }
        return presence
    }

    /// The occupant whose nickname is the same as `nickname` once both are compared as RFC 8266 says.
    func holder(of nickname: String) -> Occupant? {
        if let exact = occupants[nickname] { return exact }
        let key = Self.nicknameKey(nickname)
        return occupants.values.first { Self.nicknameKey($0.nickname) == key }
    }

    /// A nickname as RFC 8266 compares nicknames: compatibility forms and widths folded (NFKC), every kind of space
    /// as one ASCII space, no leading or trailing space, case folded.
    static func nicknameKey(_ nickname: String) -> String {
        let folded = nickname.precomposedStringWithCompatibilityMapping.lowercased()
        return folded.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
}
