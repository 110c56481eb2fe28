import XMPPCore
import XMPPServerKernel

// Moderation (XEP-0045 §8, §9, §10.3–§10.8): roles by nickname, affiliations by bare JID, and their lists,
// with the permission tables of §5.1.2 and §5.2.1.
extension Room {
    /// One requested change, validated before any is applied (a request is all or nothing).
    private enum Change {
        case role(nickname: String, MUCRole, reason: String?)
        case affiliation(account: JID, MUCAffiliation, reason: String?)
    }

    /// Answers a muc#admin request; returns the result payload or throws the stanza error.
    mutating func administer(_ iq: IQ, query: Element, from sender: JID, effects: inout RoomEffects) throws(StanzaError) -> Element? {
        let items = query.children("item", namespace: MUCNamespace.admin)
        guard !items.isEmpty else { throw StanzaError(.badRequest, text: "a muc#admin request needs an item") }
        if iq.type == .get {
            return try list(items[0], for: sender)
        }
        let actor = occupant(of: sender)
        var changes: [Change] = []
        for item in items {
            changes.append(try validate(item, from: sender, actor: actor))
        }
        for change in changes {
            switch change {
            case .role(let nickname, let role, let reason): apply(role, to: nickname, actor: actor?.nickname, reason: reason, effects: &effects)
            case .affiliation(let account, let affiliation, let reason):
                apply(affiliation, to: account, actor: actor?.nickname, reason: reason, effects: &effects)
            }
        }
        return nil
    }

    // MARK: Lists

    private func list(_ item: Element, for sender: JID) throws(StanzaError) -> Element {
        var query = Element("query", namespace: MUCNamespace.admin)
        if let value = item.attribute("affiliation") {
            guard let wanted = MUCAffiliation(rawValue: value), wanted != .none else {
                throw StanzaError(.badRequest, text: "unknown affiliation list")
            }
            guard affiliation(of: sender) >= .admin else { throw StanzaError(.forbidden, text: "only admins and owners see affiliation lists") }
            for (account, affiliation) in affiliations.sorted(by: { $0.key.description < $1.key.description }) where affiliation == wanted {
                var entry = Element("item", namespace: MUCNamespace.admin, attributes: ["affiliation": affiliation.rawValue, "jid": account.description])
                if let nickname = occupants.values.first(where: { $0.account == account })?.nickname { entry.setAttribute("nick", to: nickname) }
                query.append(entry)
            }
        } else if let value = item.attribute("role") {
            guard let wanted = MUCRole(rawValue: value), wanted != .none else { throw StanzaError(.badRequest, text: "unknown role list") }
            guard occupant(of: sender)?.role == .moderator else { throw StanzaError(.forbidden, text: "only moderators see role lists") }
            for occupant in occupants.values.sorted(by: { $0.nickname < $1.nickname }) where occupant.role == wanted {
                query.append(Element("item", namespace: MUCNamespace.admin, attributes: [
                    "affiliation": affiliation(of: occupant.account).rawValue, "jid": occupant.account.description,
                    "nick": occupant.nickname, "role": occupant.role.rawValue,
                ]))
            }
        } else {
            throw StanzaError(.badRequest, text: "ask for a role or an affiliation")
        }
        return query
    }

    // MARK: Permissions

    private func validate(_ item: Element, from sender: JID, actor: Occupant?) throws(StanzaError) -> Change {
        let reason = item.child("reason", namespace: MUCNamespace.admin)?.text
        let senderAffiliation = affiliation(of: sender)
        if let value = item.attribute("role") {
            guard let role = MUCRole(rawValue: value) else { throw StanzaError(.badRequest, text: "unknown role") }
            guard let nickname = item.attribute("nick") else { throw StanzaError(.badRequest, text: "roles are changed by nickname") }
            guard let actor, actor.role == .moderator else { throw StanzaError(.forbidden, text: "only moderators change roles") }
            guard let target = occupants[nickname] else { throw StanzaError(.itemNotFound, text: "no such occupant") }
            let targetAffiliation = affiliation(of: target.account)
            if role == .moderator || target.role == .moderator {
                // Granting or revoking moderation is for admins and owners (§5.1.2).
                guard senderAffiliation >= .admin else { throw StanzaError(.forbidden, text: "only admins and owners grant or revoke moderation") }
            }
            if role < target.role || role == .none {
                // Nobody lowers the role of an admin or owner; they lose their affiliation first (§8.2, §8.4).
                guard targetAffiliation < .admin || senderAffiliation > targetAffiliation else {
                    throw StanzaError(.notAllowed, text: "an \(targetAffiliation.rawValue)'s role cannot be lowered")
                }
            }
            return .role(nickname: nickname, role, reason: reason)
        }
        guard let value = item.attribute("affiliation"), let affiliation = MUCAffiliation(rawValue: value) else {
            throw StanzaError(.badRequest, text: "an item needs a role or an affiliation")
        }
        let account: JID
        if let raw = item.attribute("jid") {
            guard let parsed = JID(validating: raw) else { throw StanzaError(.jidMalformed) }
            account = parsed.bare
        } else if let nickname = item.attribute("nick"), let target = occupants[nickname] {
            account = target.account
        } else {
            throw StanzaError(.badRequest, text: "affiliations are changed by jid")
        }
        let current = self.affiliation(of: account)
        guard senderAffiliation >= .admin else { throw StanzaError(.forbidden, text: "only admins and owners change affiliations") }
        if senderAffiliation == .admin && (current >= .admin || affiliation >= .admin) {
            throw StanzaError(.notAllowed, text: "only owners grant or revoke admin and owner")
        }
        if current == .owner && affiliation != .owner && affiliations.values.filter({ $0 == .owner }).count == 1 {
            throw StanzaError(.conflict, text: "a room needs at least one owner")
        }
        if current == .none && affiliation != .none && affiliations.count >= limits.maxAffiliations {
            throw StanzaError(.resourceConstraint, text: "the room's affiliation lists are full")
        }
        return .affiliation(account: account, affiliation, reason: reason)
    }

    // MARK: Effects

    mutating func apply(_ role: MUCRole, to nickname: String, actor: String?, reason: String?, effects: inout RoomEffects) {
        guard var target = occupants[nickname] else { return }
        if role == .none {
            remove(nickname, status: .kicked, actor: actor, reason: reason, effects: &effects)
            return
        }
        target.role = role
        target.askedForVoice = false
        occupants[nickname] = target
        broadcastPresence(of: target, effects: &effects)
    }

    mutating func apply(_ affiliation: MUCAffiliation, to account: JID, actor: String?, reason: String?, effects: inout RoomEffects) {
        affiliations[account] = affiliation == .none ? nil : affiliation
        effects.storedStateChanged = true
        for occupant in occupants.values where occupant.account == account {
            if affiliation == .outcast {
                remove(occupant.nickname, status: .banned, actor: actor, reason: reason, effects: &effects)
            } else if configuration.isMembersOnly && affiliation < .member {
                remove(occupant.nickname, status: .removedByAffiliation, actor: actor, reason: reason, effects: &effects)
            } else {
                var changed = occupant
                changed.role = defaultRole(for: affiliation)
                occupants[occupant.nickname] = changed
                broadcastPresence(of: changed, effects: &effects)
            }
        }
    }
}
