import XMPPCore

/// A command anyone (or only administrators) can run from an XMPP client (XEP-0050 ad-hoc commands), registered by
/// any module; the ad-hoc commands module lists and runs them. A command is a sequence of stages: each step gets
/// the form submitted so far and answers with the next form or the outcome.
public struct AdHocCommand: Sendable {
    /// Who may run it.
    public enum Audience: Sendable, Hashable {
        /// Every user of the server.
        case users
        /// The server's administrators (``KernelConfiguration/admins``).
        case admins
    }

    /// The node, e.g. `http://jabber.org/protocol/admin#add-user`.
    public var node: String
    /// The name clients show.
    public var name: String
    /// Who may run it.
    public var audience: Audience
    /// One step: from the stage reached and the values submitted so far, the next stage.
    public var step: @Sendable (AdHocStep) async throws -> AdHocStage

    /// Creates a command.
    public init(node: String, name: String, audience: Audience, step: @escaping @Sendable (AdHocStep) async throws -> AdHocStage) {
        self.node = node
        self.name = name
        self.audience = audience
        self.step = step
    }
}

/// What a command step sees.
public struct AdHocStep: Sendable {
    /// Who runs it.
    public var requester: JID
    /// The kernel, for the operation.
    public var kernel: ServerKernel
    /// How many forms were submitted so far (0: the command was just started).
    public var stage: Int
    /// The values of every form submitted so far, by field (later forms override earlier ones).
    public var values: [String: [String]]

    /// The first value of `field`, if any.
    public func value(_ field: String) -> String? {
        values[field]?.first
    }

    /// Creates a step.
    public init(requester: JID, kernel: ServerKernel, stage: Int, values: [String: [String]]) {
        self.requester = requester
        self.kernel = kernel
        self.stage = stage
        self.values = values
    }
}

/// What a command step answers.
public enum AdHocStage: Sendable {
    /// A form to fill in; `isLast` when submitting it completes the command (offer `complete` rather than `next`).
    case form(DataForm, isLast: Bool)
    /// The command is done: a note to show, and a form of results (type `result`) if any.
    case completed(note: AdHocNote?, results: DataForm?)
    /// The command is done, with a results form that carries more than fields (XEP-0133's roster inside the form).
    case completedWithElement(note: AdHocNote?, results: Element)
}

/// A note a command shows (XEP-0050 §4.4).
public struct AdHocNote: Sendable, Hashable {
    /// `info`, `warn` or `error`.
    public enum Kind: String, Sendable, Hashable {
        case info, warn, error
    }

    /// How serious.
    public var kind: Kind
    /// The text.
    public var text: String

    /// Creates a note.
    public init(_ kind: Kind = .info, _ text: String) {
        self.kind = kind
        self.text = text
    }
}

extension ModuleHost {
    /// Offers a command to clients (listed and run by the ad-hoc commands module).
    public func addCommand(_ command: AdHocCommand) {
        precondition(hooks.commands[command.node] == nil, "two modules offer the command \(command.node)")
        hooks.commands[command.node] = command
    }
}

extension ServerKernel {
    /// The commands `requester` may run, by node order.
    public func commands(for requester: JID) -> [AdHocCommand] {
        hooks.commands.values.filter { $0.audience == .users || configuration.isAdmin(requester) }.sorted { $0.node < $1.node }
    }

    /// The command at `node`, whoever may run it.
    public func command(at node: String) -> AdHocCommand? {
        hooks.commands[node]
    }
}
