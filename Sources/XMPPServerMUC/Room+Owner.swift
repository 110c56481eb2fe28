import XMPPCore
import XMPPServerKernel

// IQs to the room: configuration and destruction by owners (XEP-0045 §10), moderation (Room+Admin), disco#info
// (§6.4) and self-ping (XEP-0410).
extension Room {
    /// Handles an IQ from `sender` to the room or to one of its nicknames.
    public mutating func receiveIQ(_ element: Element, from sender: JID, nickname: String?) -> RoomEffects {
        var effects = RoomEffects()
        guard let iq = IQ(element: element), let type = iq.type else { return effects }
        if let nickname, !type.isRequest { return relayIQReply(element, from: sender, to: nickname) }
        guard type.isRequest, let query = iq.payload else { return effects }
        let addressee = nickname.map(occupantJID) ?? jid
        do throws(StanzaError) {
            let payload: Element?
            switch (nickname, query.namespace) {
            case (nil, MUCNamespace.admin): payload = try administer(iq, query: query, from: sender, effects: &effects)
            case (nil, MUCNamespace.owner): payload = try own(iq, query: query, from: sender, effects: &effects)
            case (nil, DiscoModule.infoNamespace) where type == .get && query.attribute("node") == nil:
                payload = discoInfo(for: sender)
            case (nil, DiscoModule.itemsNamespace) where type == .get: payload = Element("query", namespace: DiscoModule.itemsNamespace)
            case (nil, "urn:xmpp:ping"):
                payload = nil
            case (let nickname?, "urn:xmpp:ping") where occupant(of: sender)?.nickname == nickname:
                // XEP-0410: a ping to one's own nickname tells whether one is still in the room.
                payload = nil
            case (let nickname?, _):
                try forwardIQ(element, iq: iq, from: sender, to: nickname, effects: &effects)
                return effects
            default:
                throw StanzaError(.serviceUnavailable)
            }
            var result = iq.result(payload: payload).element
            result.setAttribute("from", to: addressee.description)
            effects.send(result, to: sender)
        } catch {
            effects.fail(element, error, from: addressee, to: sender)
        }
        return effects
    }

    // MARK: Owner

    private mutating func own(_ iq: IQ, query: Element, from sender: JID, effects: inout RoomEffects) throws(StanzaError) -> Element? {
        guard affiliation(of: sender) == .owner else { throw StanzaError(.forbidden, text: "only owners configure or destroy the room") }
        if iq.type == .get {
            var reply = Element("query", namespace: MUCNamespace.owner)
            reply.append(configuration.form(maxHistoryLength: limits.maxHistoryLength).element)
            return reply
        }
        if let destroy = query.child("destroy", namespace: MUCNamespace.owner) {
            self.destroy(alternate: destroy.attribute("jid"), reason: destroy.child("reason", namespace: MUCNamespace.owner)?.text,
                         password: destroy.child("password", namespace: MUCNamespace.owner)?.text, effects: &effects)
            return nil
        }
        guard let formElement = query.child("x", namespace: DataForm.namespace), let form = DataForm(element: formElement) else {
            throw StanzaError(.badRequest, text: "send a muc#roomconfig form or a destroy request")
        }
        switch form.type {
        case .cancel:
            // Cancelling the first configuration abandons the new room (§10.1.3).
            if isLocked { destroy(alternate: nil, reason: nil, password: nil, effects: &effects) }
            return nil
        case .submit:
            try configure(with: form, effects: &effects)
            return nil
        default:
            throw StanzaError(.badRequest, text: "submit or cancel the form")
        }
    }

    private mutating func configure(with form: DataForm, effects: inout RoomEffects) throws(StanzaError) {
        if let type = form.formType, type != MUCNamespace.roomConfig {
            throw StanzaError(.badRequest, text: "the form type must be \(MUCNamespace.roomConfig)")
        }
        let before = configuration
        var updated = configuration
        try updated.apply(form, maxHistoryLength: limits.maxHistoryLength)
        configuration = updated
        let wasLocked = isLocked
        isLocked = false
        effects.storedStateChanged = true
        if configuration.historyLength < history.count { history.removeFirst(history.count - configuration.historyLength) }
        if configuration.isModerated != before.isModerated {
            for occupant in occupants.values where affiliation(of: occupant.account) == .none {
                var changed = occupant
                changed.role = defaultRole(for: .none)
                occupants[occupant.nickname] = changed
                broadcastPresence(of: changed, effects: &effects)
            }
        }
        if configuration.isMembersOnly && !before.isMembersOnly {
            for occupant in occupants.values where affiliation(of: occupant.account) < .member {
                remove(occupant.nickname, status: .removedMembersOnly, actor: nil, reason: nil, effects: &effects)
            }
        }
        guard !wasLocked else { return }
        // Occupants hear that the configuration changed, and whether real JIDs became visible (§10.2.1).
        var statuses: [MUCStatus] = [.configurationChanged]
        if configuration.realJIDsVisibleToAnyone != before.realJIDsVisibleToAnyone {
            statuses.append(configuration.realJIDsVisibleToAnyone ? .nowNonAnonymous : .nowSemiAnonymous)
        }
        var x = Element("x", namespace: MUCNamespace.user)
        for status in statuses { x.append(status.element) }
        let notice = Element("message", namespace: XMLNamespace.client,
                             attributes: ["from": jid.description, "type": "groupchat", "id": StanzaID.make()], children: [.element(x)])
        for occupant in occupants.values {
            for session in occupant.sessions { effects.send(notice, to: session) }
        }
    }

    /// Ends the room: every occupant leaves with the reason and the alternate venue (§10.9).
    mutating func destroy(alternate: String?, reason: String?, password: String?, effects: inout RoomEffects) {
        var notice = Element("destroy", namespace: MUCNamespace.user)
        notice.setAttribute("jid", to: alternate)
        if let reason { notice.append(Element("reason", namespace: MUCNamespace.user, text: reason)) }
        if let password { notice.append(Element("password", namespace: MUCNamespace.user, text: password)) }
        for occupant in occupants.values {
            var gone = Element("presence", namespace: XMLNamespace.client, attributes: ["type": "unavailable"])
            gone.setAttribute("from", to: occupantJID(occupant.nickname).description)
            gone.append(Element("x", namespace: MUCNamespace.user, children: [
                .element(Element("item", namespace: MUCNamespace.user, attributes: ["affiliation": "none", "role": "none"])),
                .element(notice),
            ]))
            for session in occupant.sessions { effects.send(gone, to: session) }
        }
        occupants = [:]
        nicknames = [:]
        effects.destroyed = true
    }

    // MARK: Disco

    /// The room's disco#info: identity, the features describing its configuration, and muc#roominfo (§6.4). Who is
    /// inside and what they talk about is not for outsiders of a members-only or password-protected room.
    /// Whether `asker` may read the room's archive (XEP-0313 §5.2): whoever may enter — occupants, members and up,
    /// and anyone but outcasts in a room that is not members-only.
    public func mayReadArchive(_ asker: JID) -> Bool {
        if occupant(of: asker) != nil { return true }
        let affiliation = affiliation(of: asker.bare)
        return affiliation >= .member || (!configuration.isMembersOnly && affiliation != .outcast && configuration.password == nil)
    }

    func discoInfo(for asker: JID) -> Element {
        let isOutsider = occupant(of: asker) == nil && affiliation(of: asker) < .member
        let isPrivate = configuration.isMembersOnly || configuration.password != nil
        let namespace = DiscoModule.infoNamespace
        var query = Element("query", namespace: namespace)
        let name = configuration.name.isEmpty ? (jid.localpart ?? jid.description) : configuration.name
        query.append(DiscoIdentity(category: "conference", type: "text", name: name).element)
        let features = [
            MUCNamespace.muc, DiscoModule.infoNamespace, DiscoModule.itemsNamespace, StanzaIdentifier.namespace, "urn:xmpp:ping",
            Self.occupantIDNamespace,
            configuration.isPublic ? "muc_public" : "muc_hidden",
            configuration.isPersistent ? "muc_persistent" : "muc_temporary",
            configuration.isMembersOnly ? "muc_membersonly" : "muc_open",
            configuration.isModerated ? "muc_moderated" : "muc_unmoderated",
            configuration.password != nil ? "muc_passwordprotected" : "muc_unsecured",
            configuration.realJIDsVisibleToAnyone ? "muc_nonanonymous" : "muc_semianonymous",
        ] + (limits.archivesMessages ? [MessageArchiveModule.namespace] : [])
            // A visitor of a moderated room may ask for voice with a muc#request form (§7.13).
            + (configuration.isModerated ? [Self.voiceRequestFormType] : [])
        for feature in features.sorted() { query.append(Element("feature", namespace: namespace, attributes: ["var": feature])) }
        var fields: [DataForm.Field] = [.init(variable: "muc#roominfo_description", label: "Description", values: [configuration.description])]
        if !(isPrivate && isOutsider) {
            fields.append(.init(variable: "muc#roominfo_occupants", label: "Number of occupants", values: [String(occupants.count)]))
            fields.append(.init(variable: "muc#roominfo_subject", label: "Subject", values: [subject?.text ?? ""]))
        }
        let info = DataForm(type: .result, formType: MUCNamespace.roomInfo, fields: fields)
        query.append(info.element)
        return query
    }
}
