import XMPPCore

/// A module's answer for service discovery nodes of the server (XEP-0030 §3.2, §4.2): ad-hoc command lists and
/// command nodes, pubsub nodes, ... `matches` picks the nodes; `info` gives the `<identity/>`/`<feature/>` children
/// for one, `items` its `<item/>` children, both for the requester of `request`.
public struct DiscoNodeProvider: Sendable {
    /// Whether this provider answers for a node (of the server `ServerKernel` runs).
    public var matches: @Sendable (String, ServerKernel) -> Bool
    /// The identities and features of a node (nil: no such node for this requester).
    public var info: @Sendable (String, IQRequest) async throws -> [Element]?
    /// The items of a node (nil: no such node for this requester).
    public var items: @Sendable (String, IQRequest) async throws -> [Element]?

    /// Creates a provider.
    public init(matches: @escaping @Sendable (String, ServerKernel) -> Bool,
                info: @escaping @Sendable (String, IQRequest) async throws -> [Element]?,
                items: @escaping @Sendable (String, IQRequest) async throws -> [Element]?) {
        self.matches = matches
        self.info = info
        self.items = items
    }
}

extension ModuleHost {
    /// Answers disco#info and disco#items requests to the server for the nodes `provider` matches.
    public func answerDiscoNodes(_ provider: DiscoNodeProvider) {
        hooks.discoNodes.append(provider)
    }
}

extension ServerKernel {
    /// The provider answering for `node`, if any.
    func discoNodeProvider(for node: String) -> DiscoNodeProvider? {
        hooks.discoNodes.first { $0.matches(node, self) }
    }
}
