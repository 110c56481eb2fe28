import Logging
import NIOCore
import XMPPCore
import XMPPServerKernel

/// The publish-subscribe service at `pubsub.<domain>` (XEP-0060): nodes anyone permitted creates, owned through
/// affiliations, read as each node's access model allows (presence and roster access follow the roster of the
/// node's creator), notifications to explicit subscribers.
public final class PubSubService: HostedService {
    public let domain: String
    public var displayName: String { "Publish-Subscribe" }
    private let creators: NodeCreators
    private let nodeStore: LazyNodeStore

    /// Who may create nodes on the service.
    public enum NodeCreators: String, Sendable, CaseIterable {
        /// Every local account.
        case local
        /// Only the server's administrators.
        case admins
    }

    /// Creates the service.
    public init(domain: String, creators: NodeCreators, limits: PubSubLimits, defaults: NodeConfiguration = .serviceDefault) {
        self.domain = domain
        self.creators = creators
        // Every node of the service, in records under `pubsub:<domain>`, kept in memory (bounded by pubsub_max_bytes).
        nodeStore = LazyNodeStore { records in
            NodeStore(records: records, recordPrefix: "pubsub:", defaults: defaults, limits: limits, isPersonal: false,
                      cache: NodeStore.CacheBounds(owners: 1, bytes: Int.max))
        }
    }

    private var serviceJID: JID { JID(validating: domain)! }

    func store(_ kernel: ServerKernel) -> NodeStore {
        nodeStore.store(kernel)
    }

    public func receive(_ stanza: Element, to: JID, kernel: ServerKernel, eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        guard stanza.name == "iq", let iq = IQ(element: stanza), let type = iq.type, type.isRequest,
              let from = stanza.attribute("from").flatMap(JID.init(validating:)) else { return nil }
        return eventLoop.makeFutureWithTask {
            let reply: Element
            do {
                let payload = try await self.answer(iq, from: from, to: to, kernel: kernel)
                reply = iq.result(payload: payload).element
            } catch let error as StanzaError {
                reply = kernel.errorReply(to: stanza, error)
            } catch {
                kernel.logger.error("pubsub request failed", metadata: ["error": "\(error)"])
                reply = kernel.errorReply(to: stanza, StanzaError(.internalServerError))
            }
            var addressed = reply
            addressed.setAttribute("from", to: to.description)
            _ = kernel.deliverFromService(addressed, to: from, eventLoop: eventLoop)
        }
    }

    private func answer(_ iq: IQ, from: JID, to: JID, kernel: ServerKernel) async throws -> Element? {
        guard to.localpart == nil, to.resourcepart == nil, let payload = iq.payload else { throw StanzaError(.serviceUnavailable) }
        switch payload.namespace {
        case DiscoNamespace.info: return try await discoInfo(payload.attribute("node"), from: from, kernel: kernel)
        case DiscoNamespace.items: return try await discoItems(payload.attribute("node"), from: from, kernel: kernel)
        case PubSubNamespace.pubsub, PubSubNamespace.owner:
            let requester = await relation(of: from, forNodeIn: payload, kernel: kernel)
            let isSet = iq.type == .set
            let outcome = try await store(kernel).change(domain) { nodes throws(StanzaError) in
                try nodes.handle(payload, isSet: isSet, from: requester)
            }
            await notify(outcome.events, kernel: kernel)
            return outcome.reply
        default:
            throw StanzaError(.serviceUnavailable)
        }
    }

    /// The requester's standing: node creation as configured, and for presence or roster access the roster of the
    /// named node's creator.
    private func relation(of jid: JID, forNodeIn payload: Element, kernel: ServerKernel) async -> Requester {
        let mayCreate = kernel.isLocal(jid) && (creators == .local || kernel.configuration.isAdmin(jid.bare))
        var requester = Requester(jid: jid, mayCreateNodes: mayCreate)
        guard let name = payload.firstChildElement?.attribute("node"),
              let node = try? await store(kernel).nodes(of: domain).nodes[name],
              node.configuration.accessModel == .presence || node.configuration.accessModel == .roster,
              let owner = node.quotaOwner.flatMap(JID.init(validating:)), kernel.isLocal(owner) else { return requester }
        let standing = PersonalEventing.relation(of: jid, in: await kernel.rosterItems(of: owner))
        requester.isPresenceSubscriber = standing.isPresenceSubscriber
        requester.rosterGroups = standing.rosterGroups
        return requester
    }

    /// Sends each event to the node's subscribers that may still read it (all of them hear of a deletion); the
    /// creator's roster is read once per event, and only for presence or roster access.
    private func notify(_ events: [PubSubEvent], kernel: ServerKernel) async {
        for event in events where event.node.configuration.deliverNotifications {
            var targets: [JID] = []
            if let only = event.onlyFor {
                targets = [only]
            } else {
                let node = event.node
                var roster: [RosterEntry] = []
                if node.configuration.accessModel == .presence || node.configuration.accessModel == .roster,
                   let owner = node.quotaOwner.flatMap(JID.init(validating:)), kernel.isLocal(owner) {
                    roster = await kernel.rosterItems(of: owner)
                }
                for subscription in node.subscriptions {
                    guard let jid = JID(validating: subscription.jid) else { continue }
                    if event.kind.isDeletion || node.allows(PersonalEventing.relation(of: jid, in: roster)) { targets.append(jid) }
                }
            }
            for target in targets { PersonalEventing.deliver(event.message(from: serviceJID, to: target), to: target, kernel: kernel) }
        }
    }

    // MARK: - Service discovery

    private func discoInfo(_ node: String?, from: JID, kernel: ServerKernel) async throws -> Element {
        var query = Element("query", namespace: DiscoNamespace.info)
        guard let node else {
            query.append(DiscoIdentity(category: "pubsub", type: "service", name: displayName).element)
            for feature in [DiscoNamespace.info, DiscoNamespace.items] + Self.features {
                query.append(Element("feature", namespace: DiscoNamespace.info, attributes: ["var": feature]))
            }
            return query
        }
        guard let found = try await store(kernel).nodes(of: domain).nodes[node] else { throw PubSubError.nodeNotFound }
        query.setAttribute("node", to: node)
        query.append(DiscoIdentity(category: "pubsub", type: "leaf").element)
        query.append(Element("feature", namespace: DiscoNamespace.info, attributes: ["var": PubSubNamespace.pubsub]))
        var metadata = DataForm(type: .result, formType: PubSubNamespace.metaData)
        metadata.setValues([found.configuration.title], for: "pubsub#title")
        metadata.setValues([found.configuration.accessModel.rawValue], for: "pubsub#access_model")
        metadata.setValues(found.owners, for: "pubsub#owner", type: .jidMulti)
        query.append(metadata.element)
        return query
    }

    private func discoItems(_ node: String?, from: JID, kernel: ServerKernel) async throws -> Element {
        var query = Element("query", namespace: DiscoNamespace.items)
        let nodes = try await store(kernel).nodes(of: domain)
        guard let node else {
            // A whitelist node is listed only to those on its list (the others could not read it anyway).
            let requester = Requester(jid: from)
            for found in nodes.nodes.values.sorted(by: { $0.name < $1.name })
            where found.configuration.accessModel != .whitelist || found.allows(requester) {
                query.append(Element("item", namespace: DiscoNamespace.items, attributes: ["jid": domain, "node": found.name]))
            }
            return query
        }
        guard let found = nodes.nodes[node] else { throw PubSubError.nodeNotFound }
        query.setAttribute("node", to: node)
        // Item ids only for those who may read the node.
        if found.allows(await relation(of: from, forNodeIn: Element("x", namespace: "", attributes: ["node": node]).wrapped, kernel: kernel)) {
            for item in found.items {
                query.append(Element("item", namespace: DiscoNamespace.items, attributes: ["jid": domain, "name": item.id]))
            }
        }
        return query
    }

    /// The pubsub features of the service (XEP-0060 §10).
    static let features: [String] = [
        "access-open", "access-presence", "access-roster", "access-whitelist", "auto-create", "config-node", "create-and-configure",
        "create-nodes", "delete-items", "delete-nodes", "instant-nodes", "item-ids", "manage-subscriptions", "meta-data",
        "modify-affiliations", "persistent-items", "publish", "publish-options", "purge-nodes", "retract-items",
        "retrieve-affiliations", "retrieve-default", "retrieve-items", "retrieve-subscriptions", "subscribe",
    ].map(PubSubNamespace.feature) + [PubSubNamespace.pubsub]
}

extension Element {
    /// This element inside an otherwise empty one: what ``PubSubService`` reads a node name from.
    fileprivate var wrapped: Element { Element("pubsub", namespace: PubSubNamespace.pubsub).appending(self) }
}

extension PubSubEventKind {
    /// Whether this is the node's deletion, which every subscriber hears of, whatever its access now.
    fileprivate var isDeletion: Bool {
        if case .deleted = self { return true }
        return false
    }
}
