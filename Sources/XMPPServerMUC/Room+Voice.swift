import XMPPCore
import XMPPServerKernel

// Voice requests in moderated rooms (XEP-0045 §7.13, §8.6): a visitor submits a muc#request form to the room,
// the room turns it into an approval form for each moderator, and a moderator who submits it with
// muc#request_allow true gives the visitor voice.
extension Room {
    /// The FORM_TYPE of voice requests and their approval.
    static let voiceRequestFormType = "http://jabber.org/protocol/muc#request"

    /// The muc#request form a message carries, if any.
    static func voiceRequestForm(in element: Element) -> DataForm? {
        guard let x = element.child("x", namespace: DataForm.namespace), let form = DataForm(element: x),
              form.formType == voiceRequestFormType else { return nil }
        return form
    }

    mutating func voiceRequest(_ element: Element, form: DataForm, from sender: JID, effects: inout RoomEffects) {
        guard let asker = occupant(of: sender) else {
            effects.fail(element, StanzaError(.notAcceptable, text: "only occupants may ask for voice"), from: jid, to: sender)
            return
        }
        if form.field("muc#request_allow") != nil {
            approveVoice(element, form: form, by: asker, from: sender, effects: &effects)
            return
        }
        // Only a visitor asking for the participant role has something to ask, and only once while inside.
        guard asker.role == .visitor, form.value(of: "muc#role") == MUCRole.participant.rawValue, !asker.askedForVoice else { return }
        occupants[asker.nickname]!.askedForVoice = true
        var approval = DataForm(type: .form, formType: Self.voiceRequestFormType, title: "Voice request",
                                instructions: ["To give this person voice, check the box and submit the form."])
        approval.fields.append(.init(variable: "muc#role", type: .listSingle, label: "Requested role", values: [MUCRole.participant.rawValue]))
        approval.fields.append(.init(variable: "muc#jid", type: .jidSingle, label: "User ID", values: [sender.description]))
        approval.fields.append(.init(variable: "muc#roomnick", type: .textSingle, label: "Room Nickname", values: [asker.nickname]))
        approval.fields.append(.init(variable: "muc#request_allow", type: .boolean, label: "Grant voice to this person?", values: ["false"]))
        var message = Element("message", namespace: XMLNamespace.client, attributes: ["from": jid.description, "id": StanzaID.make()])
        message.append(approval.element)
        for moderator in occupants.values where moderator.role == .moderator {
            for session in moderator.sessions { effects.send(message, to: session) }
        }
    }

    private mutating func approveVoice(_ element: Element, form: DataForm, by approver: Occupant, from sender: JID,
                                       effects: inout RoomEffects) {
        guard approver.role == .moderator else {
            effects.fail(element, StanzaError(.forbidden, text: "only moderators approve voice requests"), from: jid, to: sender)
            return
        }
        // A request that was declined, or whose visitor left or already has voice, needs nothing.
        guard form.field("muc#request_allow")?.boolValue == true, let nickname = form.value(of: "muc#roomnick"),
              occupants[nickname]?.role == .visitor else { return }
        apply(.participant, to: nickname, actor: approver.nickname, reason: nil, effects: &effects)
    }
}
