import XMPPCore

/// Handles a top-level element that is not a stanza (a nonza: stream management's `<r/>`, CSI's `<active/>`) on
/// an authenticated stream; answers, if at all, through `session.deliver`. Runs on the session's event loop.
public typealias NonzaHandler = @Sendable (_ element: Element, _ session: any ClientSession, ServerKernel) -> Void

extension ModuleHost {
    /// Handles nonzas in `namespace` once a session is bound. Without a handler, a nonza closes the stream with
    /// `unsupported-stanza-type`.
    public func handleNonza(_ namespace: String, _ handler: @escaping NonzaHandler) {
        precondition(hooks.nonzaHandlers[namespace] == nil, "two modules handle nonzas in \(namespace)")
        hooks.nonzaHandlers[namespace] = handler
    }
}

extension ServerKernel {
    /// Passes a nonza from a bound session to its module; `false` when no module handles its namespace.
    public func handleNonza(_ element: Element, from session: any ClientSession) -> Bool {
        guard let handler = hooks.nonzaHandlers[element.namespace] else { return false }
        handler(element, session, self)
        return true
    }
}
