import XMPPCore
import XMPPServerKernel

/// A room's settings, as the owner sets them with the `muc#roomconfig` form (XEP-0045 §10.2).
public struct RoomConfiguration: Sendable, Codable, Hashable {
    /// Who may send private messages to occupants.
    public enum PrivateMessagePolicy: String, Sendable, Codable, CaseIterable {
        case anyone, participants, moderators, none
    }

    /// The room's name.
    public var name = ""
    /// A short description.
    public var description = ""
    /// Whether the room outlives its last occupant (and server restarts).
    public var isPersistent = false
    /// Whether the room is listed in the service's disco#items.
    public var isPublic = true
    /// Whether only members may enter.
    public var isMembersOnly = false
    /// Whether only participants (not visitors) may speak.
    public var isModerated = false
    /// The password needed to enter, or `nil` for none.
    public var password: String?
    /// Most occupants at once (0: no limit besides the service's).
    public var maxOccupants = 0
    /// Whether every occupant sees real JIDs (`anyone`) or only moderators do (`moderators`).
    public var realJIDsVisibleToAnyone = false
    /// How many messages of history the room keeps for newcomers.
    public var historyLength = 20
    /// Whether participants may invite others (otherwise only admins and owners).
    public var allowsInvitations = false
    /// Who may send private messages.
    public var privateMessages = PrivateMessagePolicy.anyone
    /// Whether participants may change the subject (moderators always may).
    public var participantsMayChangeSubject = false

    /// The defaults of a new room.
    public init() {}

    private enum Field {
        static let name = "muc#roomconfig_roomname"
        static let description = "muc#roomconfig_roomdesc"
        static let persistent = "muc#roomconfig_persistentroom"
        static let isPublic = "muc#roomconfig_publicroom"
        static let membersOnly = "muc#roomconfig_membersonly"
        static let moderated = "muc#roomconfig_moderatedroom"
        static let passwordProtected = "muc#roomconfig_passwordprotectedroom"
        static let secret = "muc#roomconfig_roomsecret"
        static let maxUsers = "muc#roomconfig_maxusers"
        static let whois = "muc#roomconfig_whois"
        static let history = "muc#maxhistoryfetch"
        static let invites = "muc#roomconfig_allowinvites"
        static let privateMessages = "muc#roomconfig_allowpm"
        static let changeSubject = "muc#roomconfig_changesubject"
    }

    /// The configuration form an owner fills in, with the current values.
    public func form(maxHistoryLength: Int) -> DataForm {
        typealias F = DataForm.Field
        func bool(_ variable: String, _ label: String, _ value: Bool) -> F {
            F(variable: variable, type: .boolean, label: label, values: [value ? "1" : "0"])
        }
        return DataForm(type: .form, formType: MUCNamespace.roomConfig, title: "Room configuration", fields: [
            F(variable: Field.name, type: .textSingle, label: "Name", values: [name]),
            F(variable: Field.description, type: .textSingle, label: "Description", values: [description]),
            bool(Field.persistent, "Keep the room when it is empty", isPersistent),
            bool(Field.isPublic, "List the room in the directory", isPublic),
            bool(Field.membersOnly, "Only members may enter", isMembersOnly),
            bool(Field.moderated, "Only participants with voice may speak", isModerated),
            bool(Field.passwordProtected, "A password is needed to enter", password != nil),
            F(variable: Field.secret, type: .textPrivate, label: "Password", values: password.map { [$0] } ?? []),
            F(variable: Field.maxUsers, type: .listSingle, label: "Most occupants (0: no limit)", values: [String(maxOccupants)],
              options: ["0", "10", "20", "30", "50", "100", "200"].map { .init(value: $0) }),
            F(variable: Field.whois, type: .listSingle, label: "Who may see real JIDs",
              values: [realJIDsVisibleToAnyone ? "anyone" : "moderators"],
              options: [.init(label: "Moderators only", value: "moderators"), .init(label: "Anyone", value: "anyone")]),
            F(variable: Field.history, type: .textSingle, label: "Messages of history kept (at most \(maxHistoryLength))",
              values: [String(historyLength)]),
            bool(Field.invites, "Participants may invite others", allowsInvitations),
            F(variable: Field.privateMessages, type: .listSingle, label: "Who may send private messages",
              values: [privateMessages.rawValue], options: PrivateMessagePolicy.allCases.map { .init(value: $0.rawValue) }),
            bool(Field.changeSubject, "Participants may change the subject", participantsMayChangeSubject),
        ])
    }

    /// Applies a submitted form; fields left out keep their values. Throws `not-acceptable` for values out of range.
    public mutating func apply(_ form: DataForm, maxHistoryLength: Int) throws(StanzaError) {
        func bool(_ variable: String) throws(StanzaError) -> Bool? {
            guard let field = form.field(variable), !field.values.isEmpty else { return nil }
            guard let value = field.boolValue else { throw StanzaError(.notAcceptable, text: "\(variable) must be a boolean") }
            return value
        }
        func integer(_ variable: String, in range: ClosedRange<Int>) throws(StanzaError) -> Int? {
            guard let text = form.value(of: variable) else { return nil }
            guard let value = Int(text), range.contains(value) else {
                throw StanzaError(.notAcceptable, text: "\(variable) must be a number from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
        if let value = form.value(of: Field.name) { name = value }
        if let value = form.value(of: Field.description) { description = value }
        if let value = try bool(Field.persistent) { isPersistent = value }
        if let value = try bool(Field.isPublic) { isPublic = value }
        if let value = try bool(Field.membersOnly) { isMembersOnly = value }
        if let value = try bool(Field.moderated) { isModerated = value }
        let secret = form.value(of: Field.secret) ?? password
        if let protected = try bool(Field.passwordProtected) {
            guard !protected || !(secret ?? "").isEmpty else {
                throw StanzaError(.notAcceptable, text: "a password-protected room needs a password")
            }
            password = protected ? secret : nil
        } else if form.field(Field.secret) != nil {
            password = (secret ?? "").isEmpty ? nil : secret
        }
        if let value = try integer(Field.maxUsers, in: 0...100_000) { maxOccupants = value }
        if let value = form.value(of: Field.whois) {
            guard value == "anyone" || value == "moderators" else {
                throw StanzaError(.notAcceptable, text: "\(Field.whois) is anyone or moderators")
            }
            realJIDsVisibleToAnyone = value == "anyone"
        }
        if let value = try integer(Field.history, in: 0...maxHistoryLength) { historyLength = value }
        if let value = try bool(Field.invites) { allowsInvitations = value }
        if let value = form.value(of: Field.privateMessages) {
            guard let policy = PrivateMessagePolicy(rawValue: value) else {
                throw StanzaError(.notAcceptable, text: "\(Field.privateMessages) is anyone, participants, moderators or none")
            }
            privateMessages = policy
        }
        if let value = try bool(Field.changeSubject) { participantsMayChangeSubject = value }
    }
}
