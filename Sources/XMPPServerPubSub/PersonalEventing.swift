import NIOCore
import XMPPCore
import XMPPServerKernel

/// PEP (XEP-0163): a pubsub service on every account's bare JID. The account owns its nodes; its contacts read them
/// as the access model allows and get notifications when their clients ask for them with `+notify` caps features,
/// and the last item when they come online or subscribe to the account's presence.
final class PersonalEventing: Sendable {
    let caps: CapsCache
    /// Remote contacts' resources, as their presence reached local accounts.
    let remoteResources: RemoteResources
    private let nodeStore: LazyNodeStore
    /// Run after the account itself changed one of its nodes, before the reply: XEP-0398 puts a new avatar in the
    /// vCard, bookmarks keep their XEP-0048 view. Added while modules activate.
    let ownChangeObservers = Locked<[@Sendable (_ owner: JID, PubSubEvent, ServerKernel) async -> Void]>([])

    init(defaults: NodeConfiguration, limits: PubSubLimits, cache: NodeStore.CacheBounds, capsCacheSize: Int, remoteResources: Int) {
        self.remoteResources = RemoteResources(capacity: remoteResources)
        nodeStore = LazyNodeStore { records in
            NodeStore(records: records, recordPrefix: "pep:", defaults: defaults, limits: limits, isPersonal: true, cache: cache)
        }
        caps = CapsCache(capacity: capsCacheSize)
    }

    /// Every account's nodes, in the kernel's per-service records under `pep:<account>`.
    func store(_ kernel: ServerKernel) -> NodeStore {
        nodeStore.store(kernel)
    }

    /// The topic under which cluster nodes hear that an account's nodes changed (``ServerKernel/announceAccountDataChange(_:topic:)``).
    static let clusterTopic = "pep"

    /// Runs `body` on `account`'s nodes (``NodeStore/change(_:_:)``) and tells the other cluster nodes, which forget
    /// their copy.
    private func change(_ kernel: ServerKernel, _ account: String,
                        _ body: @escaping @Sendable (inout PubSubNodes) throws(StanzaError) -> PubSubOutcome) async throws -> PubSubOutcome {
        let outcome = try await store(kernel).change(account, body)
        if !outcome.changed.isEmpty || !outcome.deleted.isEmpty { kernel.announceAccountDataChange(account, topic: Self.clusterTopic) }
        return outcome
    }

    /// Answers a pubsub request to an account's bare JID.
    func handle(_ request: IQRequest) async throws -> IQReply {
        guard let owner = request.to.localpart else { throw StanzaError(.serviceUnavailable) }
        let kernel = request.kernel
        let requester = await relation(of: request.from, to: request.to, kernel: kernel)
        let payload = request.payload, isSet = request.iq.type == .set
        let outcome = try await change(kernel, owner) { nodes throws(StanzaError) in
            try nodes.handle(payload, isSet: isSet, from: requester)
        }
        if requester.isOwnerAccount {
            let observers = ownChangeObservers.withLock { $0 }
            for event in outcome.events { for observer in observers { await observer(request.to, event, kernel) } }
        }
        await notify(outcome.events, owner: request.to, kernel: kernel)
        return IQReply(outcome.reply)
    }

    /// Publishes on the account's behalf (the server keeping two views in step), with the owner's rights.
    func publish(_ payload: Element, itemID: String, node: String, options: DataForm?, owner: JID, kernel: ServerKernel) async throws {
        guard let account = owner.localpart else { return }
        var publish = Element("publish", namespace: PubSubNamespace.pubsub, attributes: ["node": node])
        publish.append(Element("item", namespace: PubSubNamespace.pubsub, attributes: ["id": itemID]).appending(payload))
        var built = Element("pubsub", namespace: PubSubNamespace.pubsub).appending(publish)
        if let options { built.append(Element("publish-options", namespace: PubSubNamespace.pubsub).appending(options.element)) }
        let request = built
        let requester = Requester(jid: owner, isOwnerAccount: true, mayCreateNodes: true)
        let outcome = try await change(kernel, account) { nodes throws(StanzaError) in
            try nodes.handle(request, isSet: true, from: requester)
        }
        await notify(outcome.events, owner: owner, kernel: kernel)
    }

    /// Retracts items on the account's behalf.
    func retract(_ itemIDs: [String], node: String, owner: JID, kernel: ServerKernel) async throws {
        guard let account = owner.localpart, !itemIDs.isEmpty else { return }
        var retract = Element("retract", namespace: PubSubNamespace.pubsub, attributes: ["node": node])
        for id in itemIDs { retract.append(Element("item", namespace: PubSubNamespace.pubsub, attributes: ["id": id])) }
        let request = Element("pubsub", namespace: PubSubNamespace.pubsub).appending(retract)
        let requester = Requester(jid: owner, isOwnerAccount: true, mayCreateNodes: true)
        let outcome = try await change(kernel, account) { nodes throws(StanzaError) in
            try nodes.handle(request, isSet: true, from: requester)
        }
        await notify(outcome.events, owner: owner, kernel: kernel)
    }

    /// A node of the account as it is now, if it exists.
    func node(_ name: String, of owner: JID, kernel: ServerKernel) async throws -> PubSubNode? {
        guard let account = owner.localpart else { return nil }
        return try await store(kernel).nodes(of: account).nodes[name]
    }

    /// How `jid` stands with `owner`: the account itself, or a contact as the owner's roster says.
    func relation(of jid: JID, to owner: JID, kernel: ServerKernel, roster: [RosterEntry]? = nil) async -> Requester {
        if jid.bare == owner { return Requester(jid: jid, isOwnerAccount: true, mayCreateNodes: true) }
        let entries: [RosterEntry]
        if let roster { entries = roster } else { entries = await kernel.rosterItems(of: owner) }
        return Self.relation(of: jid, in: entries)
    }

    static func relation(of jid: JID, in roster: [RosterEntry]) -> Requester {
        let entry = roster.first { $0.jid == jid.bare }
        return Requester(jid: jid, isPresenceSubscriber: entry?.contactReceivesPresence ?? false, rosterGroups: entry?.groups)
    }

    /// Whether a session's announced capabilities ask for notifications of `node`.
    func wantsNotifications(_ entry: SessionRegistry.Entry, of node: String) -> Bool {
        caps.knownFeatures(of: entry.presence)?.contains(PubSubNamespace.notifyFeature(node)) ?? false
    }
}

extension PersonalEventing {
    /// Disco of an account's PEP nodes (XEP-0060 §5.2, §5.3, §5.5): the nodes the requester may read, a node's
    /// identity and metadata, and its item ids.
    var discoProvider: AccountDiscoProvider {
        AccountDiscoProvider(
            items: { node, request in
                guard let account = request.to.localpart else { return nil }
                let nodes = try await self.store(request.kernel).nodes(of: account).nodes
                let requester = await self.relation(of: request.from, to: request.to, kernel: request.kernel)
                guard let node else {
                    return nodes.values.filter { $0.allows(requester) }.map(\.name).sorted().map {
                        Element("item", namespace: DiscoNamespace.items, attributes: ["jid": request.to.description, "node": $0])
                    }
                }
                guard let found = nodes[node], found.allows(requester) else { return nil }
                return found.items.map { Element("item", namespace: DiscoNamespace.items, attributes: ["jid": request.to.description, "name": $0.id]) }
            },
            info: { node, request in
                guard let account = request.to.localpart,
                      let found = try await self.store(request.kernel).nodes(of: account).nodes[node] else { return nil }
                let requester = await self.relation(of: request.from, to: request.to, kernel: request.kernel)
                guard found.allows(requester) else { return nil }
                var metadata = DataForm(type: .result, formType: PubSubNamespace.metaData)
                metadata.setValues([found.configuration.accessModel.rawValue], for: "pubsub#access_model")
                metadata.setValues([request.to.description], for: "pubsub#owner", type: .jidMulti)
                return [DiscoIdentity(category: "pubsub", type: "leaf").element,
                        Element("feature", namespace: DiscoNamespace.info, attributes: ["var": PubSubNamespace.pubsub]), metadata.element]
            })
    }
}
