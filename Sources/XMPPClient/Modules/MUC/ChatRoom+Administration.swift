import XMPPCore

// Moderation and ownership (XEP-0045 §8–§10): roles, affiliations, their lists, the configuration form and
// destruction. Each call returns once the room has accepted, or throws its stanza error (`forbidden`,
// `not-allowed`, `conflict`, ...).
extension ChatRoom {
    /// Kicks an occupant (role `none`, status 307).
    public func kick(_ nickname: String, reason: String? = nil) async throws {
        try await setRole(.none, of: nickname, reason: reason)
    }

    /// Bans a user (affiliation `outcast`, status 301); they cannot come back until unbanned.
    public func ban(_ user: JID, reason: String? = nil) async throws {
        try await setAffiliation(.outcast, of: user, reason: reason)
    }

    /// Gives an occupant voice in a moderated room (role `participant`).
    public func grantVoice(to nickname: String, reason: String? = nil) async throws {
        try await setRole(.participant, of: nickname, reason: reason)
    }

    /// Takes an occupant's voice (role `visitor`).
    public func revokeVoice(from nickname: String, reason: String? = nil) async throws {
        try await setRole(.visitor, of: nickname, reason: reason)
    }

    /// Sets an occupant's role.
    public func setRole(_ role: RoomRole, of nickname: String, reason: String? = nil) async throws {
        try await administer(item: ["nick": nickname, "role": role.rawValue], reason: reason)
    }

    /// Sets a user's affiliation (member, admin, owner, outcast, or none to remove it).
    public func setAffiliation(_ affiliation: RoomAffiliation, of user: JID, reason: String? = nil) async throws {
        try await administer(item: ["jid": user.bare.description, "affiliation": affiliation.rawValue], reason: reason)
    }

    /// The users with an affiliation (owners, admins, members or outcasts).
    public func users(with affiliation: RoomAffiliation) async throws -> [RoomListEntry] {
        try await list(["affiliation": affiliation.rawValue])
    }

    /// The occupants with a role (moderators, participants or visitors).
    public func occupants(with role: RoomRole) async throws -> [RoomListEntry] {
        try await list(["role": role.rawValue])
    }

    // MARK: Owner

    /// The room's configuration form (owners only).
    public func configurationForm() async throws -> DataForm {
        let answer = try await client.require().query(Element("query", namespace: MUCNamespace.owner), to: jid)
        guard let element = answer?.child("x", namespace: DataForm.namespace), let form = DataForm(element: element) else {
            throw XMPPClientError.unexpectedResponse("no configuration form from \(jid)")
        }
        return form
    }

    /// Submits a configuration form; fields left out keep their values.
    public func configure(_ form: DataForm) async throws {
        var submitted = DataForm(type: .submit, formType: MUCNamespace.roomConfig)
        for field in form.fields where field.variable != nil && field.variable != "FORM_TYPE" && field.type != .fixed {
            submitted.setValues(field.values, for: field.variable!)
        }
        try await submit(submitted)
    }

    /// Changes some settings by their field names, e.g. `["muc#roomconfig_persistentroom": "1"]`.
    public func configure(_ values: [String: String]) async throws {
        var form = DataForm(type: .submit, formType: MUCNamespace.roomConfig)
        for (variable, value) in values.sorted(by: { $0.key < $1.key }) { form.setValues([value], for: variable) }
        try await submit(form)
    }

    /// Accepts the default configuration of a room this user just created: an instant room (§10.1.2).
    public func acceptDefaultConfiguration() async throws {
        try await submit(DataForm(type: .submit))
    }

    /// Abandons a room this user just created, before configuring it (§10.1.3).
    public func cancelCreation() async throws {
        try await submit(DataForm(type: .cancel))
    }

    /// Destroys the room; occupants are told the reason and where to go instead (§10.9).
    public func destroy(reason: String? = nil, alternate: JID? = nil) async throws {
        var destroy = Element("destroy", namespace: MUCNamespace.owner)
        destroy.setAttribute("jid", to: alternate?.description)
        if let reason { destroy.append(Element("reason", namespace: MUCNamespace.owner, text: reason)) }
        try await client.require().query(Element("query", namespace: MUCNamespace.owner, children: [.element(destroy)]), type: .set, to: jid)
    }

    // MARK: Requests

    private func submit(_ form: DataForm) async throws {
        let query = Element("query", namespace: MUCNamespace.owner, children: [.element(form.element)])
        try await client.require().query(query, type: .set, to: jid)
    }

    private func administer(item attributes: [String: String], reason: String?) async throws {
        var item = Element("item", namespace: MUCNamespace.admin)
        for (name, value) in attributes.sorted(by: { $0.key < $1.key }) { item.setAttribute(name, to: value) }
        if let reason { item.append(Element("reason", namespace: MUCNamespace.admin, text: reason)) }
        try await client.require().query(Element("query", namespace: MUCNamespace.admin, children: [.element(item)]), type: .set, to: jid)
    }

    private func list(_ attributes: [String: String]) async throws -> [RoomListEntry] {
        var item = Element("item", namespace: MUCNamespace.admin)
        for (name, value) in attributes { item.setAttribute(name, to: value) }
        let answer = try await client.require().query(Element("query", namespace: MUCNamespace.admin, children: [.element(item)]), to: jid)
        return (answer?.children("item", namespace: MUCNamespace.admin) ?? []).map { item in
            RoomListEntry(jid: item.attribute("jid").flatMap { JID(validating: $0) }, nickname: item.attribute("nick"),
                          affiliation: item.attribute("affiliation").flatMap(RoomAffiliation.init),
                          role: item.attribute("role").flatMap(RoomRole.init))
        }
    }
}
