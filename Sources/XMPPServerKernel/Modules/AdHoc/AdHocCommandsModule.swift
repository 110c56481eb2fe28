import Foundation
import Logging
import XMPPCore

/// Ad-hoc commands (XEP-0050): lists the commands modules offer (``ModuleHost/addCommand(_:)``) under the disco
/// node `http://jabber.org/protocol/commands` — each requester sees those it may run — and runs them in sessions:
/// `execute`, `next`, `prev`, `complete`, `cancel`, with data forms (XEP-0004) and notes.
public struct AdHocCommandsModule: ServerModule {
    public let name = "adhoc"
    public let specifications = ["XEP-0050 1.3.0"]

    /// `http://jabber.org/protocol/commands`.
    public static let namespace = "http://jabber.org/protocol/commands"

    /// `adhoc_session_timeout`: how long a command waits for the next step.
    public static let sessionTimeout = ConfigOption.integer(
        "adhoc_session_timeout", default: 600, range: 10...86_400, "seconds a started command waits for its next step before it expires")
    /// `adhoc_max_sessions`: commands under way per requester.
    public static let maxSessions = ConfigOption.integer(
        "adhoc_max_sessions", default: 5, range: 1...100, "commands one client may have under way at once; one more gets resource-constraint")
    public var options: [ConfigOption] { [Self.sessionTimeout, Self.maxSessions] }

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let sessions = AdHocSessions(timeout: .seconds(host.configuration.value(of: Self.sessionTimeout)),
                                     maxPerRequester: host.configuration.value(of: Self.maxSessions))
        host.addServerFeature(Self.namespace)
        host.answerDiscoNodes(DiscoNodeProvider(
            matches: { node, _ in node == Self.namespace },
            info: { _, _ in
                [DiscoIdentity(category: "automation", type: "command-list", name: "Commands").element]
            },
            items: { _, request in
                request.kernel.commands(for: request.from).map { command in
                    Element("item", namespace: DiscoNamespace.items,
                            attributes: ["jid": request.kernel.configuration.domain, "node": command.node, "name": command.name])
                }
            }))
        // Each command is a node too (§3.2): what it is, for those who may run it.
        host.answerDiscoNodes(DiscoNodeProvider(
            matches: { node, kernel in kernel.command(at: node) != nil },
            info: { node, request in
                guard let command = request.kernel.command(at: node), Self.may(request.from, run: command, kernel: request.kernel) else { return nil }
                return [DiscoIdentity(category: "automation", type: "command-node", name: command.name).element,
                        Element("feature", namespace: DiscoNamespace.info, attributes: ["var": Self.namespace]),
                        Element("feature", namespace: DiscoNamespace.info, attributes: ["var": DataForm.namespace])]
            },
            items: { node, request in request.kernel.command(at: node) == nil ? nil : [] }))
        host.handleIQ(Self.namespace, for: [.server]) { request in
            guard request.iq.type == .set else { throw StanzaError(.badRequest, text: "commands are run with a set") }
            return IQReply(try await Self.run(request, sessions: sessions))
        }
    }

    static func may(_ requester: JID, run command: AdHocCommand, kernel: ServerKernel) -> Bool {
        command.audience == .users || kernel.configuration.isAdmin(requester)
    }

    /// Runs one request of a command session and returns the `<command/>` answer.
    static func run(_ request: IQRequest, sessions: AdHocSessions) async throws -> Element {
        let payload = request.payload
        let kernel = request.kernel
        guard let node = payload.attribute("node"), let command = kernel.command(at: node) else {
            throw StanzaError(.itemNotFound, text: "no such command")
        }
        guard may(request.from, run: command, kernel: kernel) else {
            kernel.logger.notice("admin command refused", metadata: ["requester": "\(request.from)", "command": "\(node)"])
            throw StanzaError(.forbidden, text: "only the server's administrators may run this command")
        }
        let action = payload.attribute("action") ?? "execute"
        guard ["execute", "next", "prev", "complete", "cancel"].contains(action) else { throw commandError(.badRequest, "bad-action") }
        let submitted = payload.child("x", namespace: DataForm.namespace).flatMap(DataForm.init(element:))

        // A new execution, or the next step of one under way.
        let id: String
        var session: AdHocSessions.Session
        if let given = payload.attribute("sessionid") {
            do {
                session = try sessions.session(given, of: request.from)
            } catch .expired {
                throw commandError(.notAllowed, "session-expired")
            } catch {
                throw commandError(.badRequest, "bad-sessionid")
            }
            guard session.node == node else { throw commandError(.badRequest, "bad-sessionid") }
            id = given
        } else {
            guard action == "execute" else { throw commandError(.badRequest, "bad-sessionid") }
            do {
                id = try sessions.start(node: node, requester: request.from)
            } catch {
                throw StanzaError(.resourceConstraint, text: "too many commands under way")
            }
            session = try sessions.session(id, of: request.from)
        }

        switch action {
        case "cancel":
            sessions.end(id)
            return answer(node: node, id: id, status: "canceled")
        case "prev":
            guard session.shown.count >= 2 else { throw commandError(.badRequest, "bad-action") }
            session.shown.removeLast()
            sessions.update(id, session)
            let (form, isLast) = session.shown[session.shown.count - 1]
            return answer(node: node, id: id, status: "executing", form: form, isLast: isLast, canGoBack: session.shown.count > 1)
        default:
            if let submitted, submitted.type == .submit {
                for field in submitted.fields { if let variable = field.variable { session.values[variable] = field.values } }
            } else if !session.shown.isEmpty && action != "execute" {
                throw StanzaError(.badRequest, text: "submit the form to go on")
            }
            let step = AdHocStep(requester: request.from, kernel: kernel, stage: session.shown.count, values: session.values)
            let stage: AdHocStage
            do {
                stage = try await command.step(step)
            } catch let error as StanzaError {
                sessions.end(id)
                throw error
            }
            switch stage {
            case .form(let form, let isLast):
                session.shown.append((form, isLast))
                sessions.update(id, session)
                return answer(node: node, id: id, status: "executing", form: form, isLast: isLast, canGoBack: session.shown.count > 1)
            case .completed(let note, let results):
                finish(id, command: command, note: note, request: request, sessions: sessions)
                return answer(node: node, id: id, status: "completed", form: results, note: note)
            case .completedWithElement(let note, let results):
                finish(id, command: command, note: note, request: request, sessions: sessions)
                var answer = answer(node: node, id: id, status: "completed", note: note)
                answer.append(results)
                return answer
            }
        }
    }

    /// Ends a session whose command completed; an administrator's command is logged with who ran it.
    static func finish(_ id: String, command: AdHocCommand, note: AdHocNote?, request: IQRequest, sessions: AdHocSessions) {
        sessions.end(id)
        guard command.audience == .admins else { return }
        request.kernel.logger.notice("admin command", metadata: ["admin": "\(request.from.bare)", "command": "\(command.node)",
                                                                "outcome": "\(note?.text ?? "done")"])
    }

    /// A `<command/>` answer.
    static func answer(node: String, id: String, status: String, form: DataForm? = nil, isLast: Bool = false,
                       canGoBack: Bool = false, note: AdHocNote? = nil) -> Element {
        var command = Element("command", namespace: namespace, attributes: ["node": node, "sessionid": id, "status": status])
        if status == "executing" {
            var actions = Element("actions", namespace: namespace, attributes: ["execute": isLast ? "complete" : "next"])
            if canGoBack { actions.append(Element("prev", namespace: namespace)) }
            actions.append(Element(isLast ? "complete" : "next", namespace: namespace))
            command.append(actions)
        }
        if let note { command.append(Element("note", namespace: namespace, attributes: ["type": note.kind.rawValue], text: note.text)) }
        if let form { command.append(form.element) }
        return command
    }

    /// A stanza error with XEP-0050's specific condition (§4.6).
    static func commandError(_ condition: StanzaError.Condition, _ specific: String) -> StanzaError {
        var error = StanzaError(condition)
        error.applicationCondition = Element(specific, namespace: namespace)
        return error
    }
}
