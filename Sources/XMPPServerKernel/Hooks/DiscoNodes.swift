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

/// A module's answer for service discovery of accounts (a bare JID): the items it lists for the account (PEP nodes),
/// and the items and information of the account's nodes. `nil` means "not mine": the next provider is asked, and
/// `item-not-found` answers a node no provider knows.
public struct AccountDiscoProvider: Sendable {
    /// The `<item/>`s of the account (`node` nil) or of one of its nodes, for the requester of `request`.
    public var items: @Sendable (_ node: String?, IQRequest) async throws -> [Element]?
    /// The `<identity/>` and `<feature/>` children (and forms) of one node of the account.
    public var info: @Sendable (_ node: String, IQRequest) async throws -> [Element]?

    /// Creates a provider.
    public init(items: @escaping @Sendable (_ node: String?, IQRequest) async throws -> [Element]?,
                info: @escaping @Sendable (_ node: String, IQRequest) async throws -> [Element]?) {
        self.items = items
        self.info = info
    }
}

extension ModuleHost {
    /// Answers disco#items to accounts, and disco#info and disco#items about their nodes, with `provider`.
    public func answerAccountDisco(_ provider: AccountDiscoProvider) {
        hooks.accountDisco.append(provider)
    }
}

extension ServerKernel {
    /// What the account-disco providers say of a node (or, for `node` nil, every item they list).
    func accountDiscoItems(_ node: String?, _ request: IQRequest) async throws -> [Element]? {
        var all: [Element]?
        for provider in hooks.accountDisco {
            guard let items = try await provider.items(node, request) else { continue }
            if node != nil { return items }
            all = (all ?? []) + items
        }
        return node == nil ? (all ?? []) : nil
    }

    /// The first account-disco provider's information about a node of an account.
    func accountDiscoInfo(_ node: String, _ request: IQRequest) async throws -> [Element]? {
        for provider in hooks.accountDisco {
            if let info = try await provider.info(node, request) { return info }
        }
        return nil
    }
}
