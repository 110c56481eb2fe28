import XMPPCore

/// One step of a command this client offers, as the requester's client sent it.
public struct CommandRequest: Sendable {
    /// Who runs it.
    public var requester: JID
    /// How many forms were submitted so far (0: the command was just started).
    public var stage: Int
    /// The values of every form submitted so far, by field.
    public var values: [String: [String]]
}

/// What a step of an offered command answers.
public enum CommandReply: Sendable {
    /// A form to fill in; `isLast` when submitting it completes the command.
    case form(DataForm, isLast: Bool)
    /// Done, with a note to show and results if any.
    case completed(note: String?, results: DataForm?)
}

/// A command an app offers to other entities (XEP-0050), e.g. to the account's other devices.
struct OfferedCommand: Sendable {
    var node: String
    var name: String
    var allows: @Sendable (JID) -> Bool
    var step: @Sendable (CommandRequest) async throws -> CommandReply
}

/// The commands a client offers, and their executions under way (at most 20, each kept 10 minutes).
final class OfferedCommands: Sendable {
    private struct Session {
        var requester: JID
        var node: String
        var stage: Int
        var values: [String: [String]]
        var started: ContinuousClock.Instant
    }

    private let commands = Locked<[String: OfferedCommand]>([:])
    private let sessions = Locked<[String: Session]>([:])

    func offer(_ command: OfferedCommand) {
        commands.withLock { $0[command.node] = command }
    }

    /// The commands `requester` may run, by node.
    func list(for requester: JID) -> [OfferedCommand] {
        commands.withLock { $0.values.filter { $0.allows(requester) }.sorted { $0.node < $1.node } }
    }

    /// Answers a `<command/>` request from `requester` with the `<command/>` reply, or throws the stanza error.
    func answer(_ request: Element, from requester: JID) async throws -> Element {
        let namespace = AdHocCommandsModule.namespace
        guard let node = request.attribute("node"), let command = commands.withLock({ $0[node] }) else { throw StanzaError(.itemNotFound) }
        guard command.allows(requester) else { throw StanzaError(.forbidden) }
        let action = request.attribute("action") ?? "execute"
        let now = ContinuousClock.now
        var id = request.attribute("sessionid") ?? ""
        var session: Session
        if id.isEmpty {
            id = StanzaID.make()
            session = Session(requester: requester, node: node, stage: 0, values: [:], started: now)
        } else {
            guard let known = sessions.withLock({ $0[id] }), known.requester == requester, known.node == node else {
                throw StanzaError(.badRequest, applicationCondition: Element("bad-sessionid", namespace: namespace))
            }
            session = known
        }
        if action == "cancel" {
            sessions.withLock { $0[id] = nil }
            return Element("command", namespace: namespace, attributes: ["node": node, "sessionid": id, "status": "canceled"])
        }
        if let form = request.child("x", namespace: DataForm.namespace).flatMap(DataForm.init(element:)) {
            for field in form.fields { if let variable = field.variable { session.values[variable] = field.values } }
        }
        let reply = try await command.step(CommandRequest(requester: requester, stage: session.stage, values: session.values))
        var answer = Element("command", namespace: namespace, attributes: ["node": node, "sessionid": id])
        switch reply {
        case .form(let form, let isLast):
            session.stage += 1
            sessions.withLock { sessions in
                sessions = sessions.filter { now - $0.value.started < .seconds(600) }
                if sessions.count >= 20, sessions[id] == nil, let oldest = sessions.min(by: { $0.value.started < $1.value.started })?.key {
                    sessions[oldest] = nil
                }
                sessions[id] = session
            }
            answer.setAttribute("status", to: "executing")
            answer.append(Element("actions", namespace: namespace, attributes: ["execute": isLast ? "complete" : "next"],
                                  children: [.element(Element(isLast ? "complete" : "next", namespace: namespace))]))
            answer.append(form.element)
        case .completed(let note, let results):
            sessions.withLock { $0[id] = nil }
            answer.setAttribute("status", to: "completed")
            if let note { answer.append(Element("note", namespace: namespace, attributes: ["type": "info"], text: note)) }
            if let results { answer.append(results.element) }
        }
        return answer
    }
}
